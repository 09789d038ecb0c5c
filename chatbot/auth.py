"""Caller authentication: `POST /api/session` issues a signed token; chat requests must bear it.

CORS only tells browsers which pages may read our answers; anything else (curl, a script) sends
whatever Origin it likes. The token narrows that: it is issued only to an allowed Origin, names
one session and that Origin, expires in minutes, and every per-session limit counts against the
token's session, so rotating `session_id`s in bodies buys nothing, and minting tokens is itself
limited per client IP. REVIEW.md (S6) says what it does not stop and what a site adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from chatbot.errors import ChatError, Forbidden, OriginNotAllowed, Unauthorized
from chatbot.middleware import client_ip_of
from chatbot.models import SESSION_ID_PATTERN, ChatRequest, ErrorResponse
from chatbot.session_tokens import SessionTokens, new_session_id

router = APIRouter()
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="The token from POST /api/session; it binds the session and the page origin.",
)


class SessionRequest(BaseModel):
    """The session the widget wants a token for; without one the service makes one."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    session_id: str | None = Field(
        default=None, pattern=SESSION_ID_PATTERN, description="The widget's session id, if any"
    )


class SessionGrant(BaseModel):
    """A token for `Authorization: Bearer`, the session it binds, its lifetime in seconds."""

    token: str
    session_id: str
    expires_in: int


@dataclass(frozen=True)
class Caller:
    """Who is asking: the client address, and the session and origin its token vouches for."""

    client_ip: str
    session_id: str | None  # None only when tokens are optional and none was sent
    origin: str | None

    def limit_session(self, request: ChatRequest) -> str:
        """The session every per-session limit counts against: the token's, when there is one."""
        if self.session_id is None:
            return request.session_id
        if request.session_id != self.session_id:
            raise Forbidden("This token belongs to another session.")
        return self.session_id


def _tokens(request: Request) -> SessionTokens:
    return request.app.state.tokens


SESSION_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorResponse, "description": "The Origin is not in the allowlist."},
    429: {"model": ErrorResponse, "description": "This client asked for too many tokens."},
}


@router.post("/api/session", response_model=SessionGrant, responses=SESSION_ERRORS)
async def create_session(request: Request, body: SessionRequest | None = None) -> SessionGrant:
    """Issue a short-lived token to a widget running on an allowed site."""
    settings = request.app.state.settings
    origin = request.headers.get("origin")
    if origin is None or origin not in settings.cors_allow_origins:
        raise OriginNotAllowed()
    client_ip = client_ip_of(request.scope, settings.trusted_proxy_hops)
    try:
        await request.app.state.limiter.admit_session_grant(client_ip)
    except ChatError as error:
        request.app.state.metrics.throttles.labels(error.scope).inc()
        raise
    session_id = body.session_id if body is not None and body.session_id else new_session_id()
    tokens = _tokens(request)
    request.app.state.metrics.sessions_issued.inc()
    return SessionGrant(
        token=tokens.issue(session_id, origin),
        session_id=session_id,
        expires_in=tokens.ttl_seconds,
    )


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """The caller behind a chat request: 401 without a valid token, 403 from another origin.

    Runs before the body is parsed, so an unauthenticated request costs no validation work.
    """
    settings = request.app.state.settings
    client_ip = client_ip_of(request.scope, settings.trusted_proxy_hops)
    origin = request.headers.get("origin")
    if credentials is None:
        if settings.tokens_required or "authorization" in request.headers:
            raise Unauthorized()
        return Caller(client_ip, None, origin)
    claims = _tokens(request).verify(credentials.credentials)
    if origin != claims.origin:
        raise Forbidden("This token was issued to another site.")
    return Caller(client_ip, claims.session_id, origin)
