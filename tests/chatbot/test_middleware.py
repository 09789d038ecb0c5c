"""Request ids, security headers, CORS and the generic 500, on every kind of response."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/nowhere", 404),
        ("DELETE", "/api/chat", 405),
        ("GET", "/api/chat", 405),
    ],
)
def test_every_response_has_a_request_id_and_security_headers(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status
    assert len(response.headers["x-request-id"]) >= 8
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [("GET", "/x", "not_found"), ("PUT", "/api/chat", "method_not_allowed")],
)
def test_404_and_405_use_the_json_error_shape(client, api, method, path, code):
    response = client.request(method, path)
    api.assert_error_shape(response, response.status_code, code)


def test_a_safe_incoming_request_id_is_kept_and_an_unsafe_one_replaced(client, api):
    kept = client.post("/api/chat", json=api.chat_body(), headers={"X-Request-ID": "lb-trace-1234"})
    assert kept.headers["x-request-id"] == "lb-trace-1234"
    assert kept.json()["request_id"] == "lb-trace-1234"
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert replaced.headers["x-request-id"] != "<script>alert(1)</script>"


def test_widget_assets_get_a_csp_that_allows_only_same_origin_resources(client):
    response = client.get("/widget/demo.html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_api_responses_are_not_cached(client, api):
    response = client.post("/api/chat", json=api.chat_body())
    assert response.headers["cache-control"] == "no-store"


def test_unexpected_exception_is_a_generic_500_without_details(fake, start, api):
    service = start()

    async def explode(*_args, **_kwargs):
        raise RuntimeError("internal detail: database password is hunter2")

    service.app.state.chat.answer = explode
    response = api.post_chat(service, api.chat_body())
    body = api.assert_error_shape(response, 500, "internal_error")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["message"] == "The assistant hit an unexpected problem. Please try again."


def test_cors_allows_only_listed_origins(fake, start, api):
    service = start(cors_allow_origins=["https://www.example.com"])
    allowed = api.post_chat(service, api.chat_body(), headers={"Origin": "https://www.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://www.example.com"
    assert "retry-after" in allowed.headers["access-control-expose-headers"].lower()
    other = api.post_chat(service, api.chat_body(), headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_preflight_for_json_posts(fake, start):
    service = start(cors_allow_origins=["https://www.example.com"])
    headers = {
        "Origin": "https://www.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = httpx.options(f"{service.base_url}/api/chat/stream", headers=headers)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://www.example.com"
    assert "x-request-id" in allowed.headers
    refused = httpx.options(
        f"{service.base_url}/api/chat/stream", headers={**headers, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in refused.headers


def test_errors_from_the_body_guard_carry_cors_headers(fake, start, api):
    service = start(cors_allow_origins=["https://www.example.com"])
    response = httpx.post(
        f"{service.base_url}/api/chat",
        content=b"{}",
        headers={"Origin": "https://www.example.com", "Content-Type": "text/plain"},
    )
    api.assert_error_shape(response, 415, "unsupported_media_type")
    assert response.headers["access-control-allow-origin"] == "https://www.example.com"
