"""No AWS credential, real or fake, is committed: scan every tracked and untracked file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Built from pieces so that this file never contains a key-shaped literal itself.
ACCESS_KEY_ID = re.compile(r"\b(?:AK|AS)IA[0-9A-Z]{16}\b")
SECRET_CANDIDATE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
SECRET_ASSIGNMENT = re.compile(
    r"aws_?secret_?(?:access_?)?key\s*[:=]\s*['\"]?([A-Za-z0-9/+=]{40})", re.IGNORECASE
)
MAX_FILE_BYTES = 5_000_000


def looks_like_secret(token: str) -> bool:
    """AWS secrets are 40 base64 characters mixing cases and digits; hex digests are not."""
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )


def find_credentials(text: str) -> list[str]:
    found = [match.group(0)[:8] + "…" for match in ACCESS_KEY_ID.finditer(text)]
    found += [m.group(1)[:4] + "…" for m in SECRET_ASSIGNMENT.finditer(text)]
    found += [
        m.group(0)[:4] + "…"
        for m in SECRET_CANDIDATE.finditer(text)
        if looks_like_secret(m.group(0))
    ]
    return found


def repository_files() -> list[Path]:
    """Tracked files plus untracked ones that are not ignored: what a commit could contain."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot list repository files with git: {error}")
    names = sorted({name for name in listed.decode().split("\0") if name})
    return [REPO_ROOT / name for name in names]


def test_scanner_recognises_key_shapes_built_at_runtime():
    key_id = "AKIA" + "Z7" * 8
    secret = ("Ab1/" * 10)[:40]
    assert find_credentials(f"id = '{key_id}'")
    assert find_credentials(f"aws_secret_access_key = {secret}")
    assert not find_credentials("sha1 = 0123456789abcdef0123456789abcdef01234567")


def test_no_credentials_in_tracked_or_untracked_files():
    files = repository_files()
    assert files, "git listed no files"
    offenders = {}
    for path in files:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary files: images, archives
        hits = find_credentials(text)
        if hits:
            offenders[str(path.relative_to(REPO_ROOT))] = hits
    assert offenders == {}
