"""Widget session tokens, as the popup gets them: `POST /api/session`, then `Authorization: Bearer`.

A service without tokens answers that path 404 or 405; the load test then sends no
Authorization header. A token is fetched once per simulated session (concurrent questions of a
session share the fetch), renewed shortly before it expires, and renewed once on a 401.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from core.errors import ParameterError

SESSION_PATH = "/api/session"
TokenMode = Literal["tokens", "none"]
# 404: no such route; 405: the path exists for another method. Either way: no widget tokens.
_NO_TOKEN_STATUSES = {404, 405}
_RENEW_MARGIN_SECONDS = 2.0


class SessionRefused(Exception):
    """The token endpoint refused a session; the question is recorded with this answer."""

    def __init__(self, status: int, code: str, retry_after: str | None) -> None:
        super().__init__(f"{SESSION_PATH} answered {status} {code}")
        self.status = status
        self.code = code
        self.retry_after = retry_after


@dataclass
class _Token:
    value: str
    renew_at: float  # time.monotonic() after which a fresh token is fetched first


def error_code_of(response: httpx.Response) -> str:
    """The chat contract's `error` field, or `http_<status>` when the body has none."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code else f"http_{response.status_code}"


def client_headers(origin: str, client_ip: str) -> dict[str, str]:
    """What a browser behind our proxy sends: its page's Origin and its forwarded address."""
    return {"Origin": origin, "X-Forwarded-For": client_ip}


class SessionTokens:
    """Tokens of the simulated sessions of one step, fetched lazily over one HTTP client."""

    def __init__(self, client: httpx.AsyncClient, origin: str, mode: TokenMode) -> None:
        self._client = client
        self._origin = origin
        self.mode: TokenMode = mode
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetched = 0
        self.renewed = 0

    async def authorization(
        self, session_id: str, client_ip: str, renew: bool = False
    ) -> dict[str, str]:
        """The Authorization header for this session (none when the service has no tokens)."""
        if self.mode == "none":
            return {}
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            token = self._tokens.get(session_id)
            stale = token is None or renew or time.monotonic() >= token.renew_at
            if stale:
                if token is not None:
                    self.renewed += 1
                token = await self._fetch(session_id, client_ip)
                if token is None:
                    return {}
                self._tokens[session_id] = token
        return {"Authorization": f"Bearer {token.value}"}

    async def _fetch(self, session_id: str, client_ip: str) -> _Token | None:
        response = await self._client.post(
            SESSION_PATH,
            json={"session_id": session_id},
            headers=client_headers(self._origin, client_ip),
        )
        if response.status_code in _NO_TOKEN_STATUSES:
            self.mode = "none"
            return None
        if response.status_code >= 300:
            raise SessionRefused(
                response.status_code, error_code_of(response), response.headers.get("Retry-After")
            )
        self.fetched += 1
        return token_from(response.json())


def token_from(body: object) -> _Token:
    """`{"token", "expires_in"}` -> a token renewed a little before it expires."""
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise SessionRefused(200, "token_missing", None)
    expires_in = body.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3_600.0
    margin = min(_RENEW_MARGIN_SECONDS, lifetime / 10)
    return _Token(body["token"], time.monotonic() + lifetime - margin)


def probe_token_mode(base_url: str, origin: str, timeout_seconds: float) -> TokenMode:
    """Ask the service once whether it issues widget tokens; a refusal here is a setup error."""
    with httpx.Client(base_url=base_url, timeout=timeout_seconds, trust_env=False) as client:
        try:
            response = client.post(
                SESSION_PATH,
                json={"session_id": "loadtest-probe"},
                headers={"Origin": origin},
            )
        except httpx.HTTPError as error:
            raise ParameterError(
                f"{base_url}{SESSION_PATH} did not answer ({type(error).__name__})"
            ) from None
    if response.status_code in _NO_TOKEN_STATUSES:
        return "none"
    if response.status_code == 403:
        raise ParameterError(
            f"the chat service refuses Origin {origin} (403 {error_code_of(response)}): add it "
            "to the service's CHATBOT_CORS_ALLOW_ORIGINS or pass --origin with an allowed one"
        )
    if response.status_code >= 300:
        raise ParameterError(
            f"{base_url}{SESSION_PATH} answered {response.status_code} "
            f"{error_code_of(response)} to a token request"
        )
    return "tokens"


@task(name="probe-widget-tokens", cache_policy=NO_CACHE)
def detect_token_mode(base_url: str, origin: str, timeout_seconds: float) -> TokenMode:
    """Whether the service issues widget tokens (then every simulated session gets one)."""
    mode = probe_token_mode(base_url, origin, timeout_seconds)
    print(f"widget tokens: {'yes' if mode == 'tokens' else 'no (the service has no /api/session)'}")
    return mode
