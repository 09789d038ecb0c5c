"""Widget assets: versioned and cached for a year, pinned by the README's SRI hash; CORS errors."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from typer.testing import CliRunner

from chatbot.cli import app as chatbot_cli
from chatbot.widget_assets import VERSIONED_PREFIX, embed_snippet, subresource_integrity

README = Path(__file__).resolve().parents[2] / "chatbot" / "README.md"
SNIPPET = re.compile(
    r'src="https://CHAT-HOST(?P<path>/widget/[0-9a-f]{12}/chat-widget\.js)"\s+'
    r'integrity="(?P<integrity>sha384-[A-Za-z0-9+/=]+)"'
)


def test_the_readme_snippet_pins_exactly_the_served_widget(client):
    found = SNIPPET.search(README.read_text())
    assert found, "chatbot/README.md lost its embed snippet"
    served = client.get(found["path"])
    assert served.status_code == 200, "the snippet's version is not the one being served"
    assert subresource_integrity(served.content) == found["integrity"]
    assert embed_snippet("https://CHAT-HOST") in README.read_text()


def test_embed_snippet_command_prints_the_pinned_tag():
    result = CliRunner().invoke(chatbot_cli, ["embed-snippet", "https://chat.example.com"])
    assert result.exit_code == 0
    assert f"https://chat.example.com{VERSIONED_PREFIX}/chat-widget.js" in result.output
    assert 'crossorigin="anonymous"' in result.output


def test_versioned_assets_are_immutable_and_readable_cross_origin(client):
    for name in ("chat-widget.js", "chat-widget.css"):
        response = client.get(f"{VERSIONED_PREFIX}/{name}")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["access-control-allow-origin"] == "*"  # SRI needs CORS


def test_unversioned_assets_are_cached_briefly_and_the_demo_revalidated(client):
    script = client.get("/widget/chat-widget.js")
    assert script.headers["cache-control"] == "public, max-age=300"
    assert client.get("/widget/demo.html").headers["cache-control"] == "no-cache"


def test_another_version_is_not_served_from_the_immutable_path(client, api):
    response = client.get("/widget/000000000000/chat-widget.js")
    api.assert_error_shape(response, 404, "not_found")


def preflight(service, origin: str, headers: str = "content-type,authorization"):
    return httpx.options(
        f"{service.base_url}/api/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


def test_a_preflight_for_the_widget_allows_its_token_header(service, api):
    allowed = preflight(service, api.origin)
    assert allowed.status_code == 200
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()


def test_a_refused_preflight_answers_in_the_json_error_shape(service, api):
    refused = preflight(service, "https://evil.example")
    api.assert_error_shape(refused, 403, "origin_not_allowed")
    odd_header = preflight(service, api.origin, "x-something-else")
    api.assert_error_shape(odd_header, 403, "forbidden")
