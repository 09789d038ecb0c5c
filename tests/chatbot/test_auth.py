"""Caller authentication: session tokens from an allowed origin, bound to session and origin."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from chatbot.models import SESSION_ID_PATTERN
from chatbot.session_tokens import SessionTokens

CHAT_PATHS = ["/api/chat", "/api/chat/stream"]


def chat(service, body, headers) -> httpx.Response:
    return httpx.post(f"{service.base_url}/api/chat", json=body, headers=headers, timeout=10)


def token_from(key: str, session_id: str, origin: str, issued_ago: float = 0.0) -> str:
    """A token signed elsewhere with `key`, as if issued `issued_ago` seconds ago."""
    tokens = SessionTokens(key, None, 900, clock=lambda: time.time() - issued_ago)
    return tokens.issue(session_id, origin)


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_no_token_is_401_and_makes_no_model_call(fake, service, api, path):
    response = httpx.post(
        f"{service.base_url}{path}", json=api.chat_body(), headers={"Origin": api.origin}
    )
    api.assert_error_shape(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert fake.stats.total_calls == 0


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Bearer", "Basic dXNlcjpwYXNz", "Bearer a.b.c.d"],
)
def test_a_malformed_or_foreign_token_is_401(fake, service, api, authorization):
    headers = {"Origin": api.origin, "Authorization": authorization}
    api.assert_error_shape(chat(service, api.chat_body(), headers), 401, "unauthorized")
    assert fake.stats.total_calls == 0


def test_a_token_signed_with_another_key_is_401(fake, service, api):
    forged = token_from(secrets.token_urlsafe(32), "session-0001", api.origin)
    headers = {"Origin": api.origin, "Authorization": f"Bearer {forged}"}
    api.assert_error_shape(chat(service, api.chat_body(), headers), 401, "unauthorized")


def test_an_expired_token_is_401_token_expired(fake, service, api):
    old = token_from(api.signing_key, "session-0001", api.origin, issued_ago=901)
    headers = {"Origin": api.origin, "Authorization": f"Bearer {old}"}
    api.assert_error_shape(chat(service, api.chat_body(), headers), 401, "token_expired")
    assert fake.stats.total_calls == 0


@pytest.mark.parametrize("origin", ["https://evil.example", None])
def test_a_token_used_from_another_origin_is_403(fake, service, api, origin):
    headers = api.auth_headers(service, "session-0001")
    if origin is None:
        del headers["Origin"]  # curl with a copied token and no Origin at all
    else:
        headers["Origin"] = origin
    api.assert_error_shape(chat(service, api.chat_body(), headers), 403, "forbidden")
    assert fake.stats.total_calls == 0


def test_a_token_cannot_speak_for_another_session(fake, service, api):
    # Rotating session ids in the body would otherwise buy a fresh per-session limit each time.
    headers = api.auth_headers(service, "session-0001")
    body = api.chat_body(session_id="session-rotated-1")
    api.assert_error_shape(chat(service, body, headers), 403, "forbidden")


def test_session_endpoint_issues_a_token_bound_to_the_given_session(fake, service, api):
    response = api.grant(service, "session-given-1")
    assert response.status_code == 200
    grant = response.json()
    assert set(grant) == {"token", "session_id", "expires_in"}
    assert grant["session_id"] == "session-given-1"
    assert grant["expires_in"] == service.settings.token_ttl_seconds
    headers = {"Origin": api.origin, "Authorization": f"Bearer {grant['token']}"}
    answered = chat(service, api.chat_body(session_id="session-given-1"), headers)
    assert answered.status_code == 200
    assert response.headers["access-control-allow-origin"] == api.origin


@pytest.mark.parametrize("content", [b"{}", b""])
def test_session_endpoint_makes_a_session_id_when_none_is_given(fake, service, api, content):
    import re

    response = httpx.post(
        f"{service.base_url}/api/session",
        content=content,
        headers={"Origin": api.origin, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    session_id = response.json()["session_id"]
    assert re.fullmatch(SESSION_ID_PATTERN.strip("^$"), session_id)
    assert session_id != api.grant(service).json()["session_id"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None])
def test_session_endpoint_refuses_origins_outside_the_allowlist(fake, service, api, origin):
    headers = {} if origin is None else {"Origin": origin}
    response = httpx.post(f"{service.base_url}/api/session", json={}, headers=headers)
    api.assert_error_shape(response, 403, "origin_not_allowed")


def test_session_endpoint_validates_the_session_id(fake, service, api):
    response = api.grant(service, "../../etc")
    api.assert_error_shape(response, 422, "invalid_request")


def test_minting_tokens_is_limited_per_client_address(fake, start, api):
    service = start(session_grant_rate_limit="3/minute")
    statuses = [api.grant(service, f"session-mint-{index}").status_code for index in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_tokens_signed_with_the_previous_key_stay_valid_during_rotation(fake, start, api):
    old_key, new_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    old_token = token_from(old_key, "session-0001", api.origin)
    headers = {"Origin": api.origin, "Authorization": f"Bearer {old_token}"}
    rotating = start(token_signing_key=new_key, token_signing_key_previous=old_key)
    assert chat(rotating, api.chat_body(), headers).status_code == 200
    new_grant = api.grant(rotating).json()["token"]
    assert SessionTokens(new_key, None, 900).verify(new_grant)  # new tokens use the new key
    rotated = start(token_signing_key=new_key)
    api.assert_error_shape(chat(rotated, api.chat_body(), headers), 401, "unauthorized")


def test_tokens_are_optional_outside_production_unless_required(fake, start, api):
    service = start(require_token=False)
    assert chat(service, api.chat_body(), {"Origin": api.origin}).status_code == 200
    bad = {"Origin": api.origin, "Authorization": "Bearer not-a-token"}
    api.assert_error_shape(chat(service, api.chat_body(), bad), 401, "unauthorized")
