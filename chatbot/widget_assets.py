"""The widget's static files: a content-versioned URL that caches for a year, SRI, cache headers.

Sites embed the script from `/widget/<version>/chat-widget.js`, where the version is a digest of
the embeddable files, so the bytes behind a versioned URL never change: browsers and CDNs may
keep them for a year (`immutable`), and the embedding page can pin them with a Subresource
Integrity hash. `/widget/chat-widget.js` (unversioned) stays for sites that prefer automatic
upgrades over pinning; it is cached for minutes only and cannot carry an SRI hash.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

WIDGET_DIR = Path(__file__).parent / "widget"
WIDGET_PREFIX = "/widget"
# The files a site loads: the script, and the stylesheet the script adds to its shadow root.
EMBEDDED_FILES = ("chat-widget.js", "chat-widget.css")

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_LIVED = "public, max-age=300"
REVALIDATE = "no-cache"  # the demo page: always checked, so a new widget shows at once


def content_version(directory: Path = WIDGET_DIR) -> str:
    """12 hex digits of SHA-256 over the embedded files: changes whenever either changes."""
    digest = hashlib.sha256()
    for name in EMBEDDED_FILES:
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:12]


WIDGET_VERSION = content_version()
VERSIONED_PREFIX = f"{WIDGET_PREFIX}/{WIDGET_VERSION}"


def subresource_integrity(content: bytes) -> str:
    """The `integrity` attribute value (SHA-384, as browsers and the SRI spec recommend)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode("ascii")


def embed_snippet(base_url: str) -> str:
    """The `<script>` tag a site pastes: versioned URL, SRI hash, anonymous CORS fetch."""
    script = (WIDGET_DIR / "chat-widget.js").read_bytes()
    return (
        f'<script src="{base_url.rstrip("/")}{VERSIONED_PREFIX}/chat-widget.js"\n'
        f'        integrity="{subresource_integrity(script)}"\n'
        '        crossorigin="anonymous" defer></script>'
    )


def cache_control_for(path: str) -> str:
    if path.startswith(VERSIONED_PREFIX + "/"):
        return IMMUTABLE
    if path.endswith(".html"):
        return REVALIDATE
    return SHORT_LIVED
