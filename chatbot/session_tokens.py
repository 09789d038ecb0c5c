"""Short-lived signed session tokens: which session and which site origin a caller speaks for.

itsdangerous signs a small JSON payload with HMAC-SHA256 and a timestamp; it verifies against a
list of keys (previous, then current), which is what key rotation needs: tokens signed with the
previous key stay valid until they expire, new ones use the current key. Nothing is stored: any
instance holding the keys can verify any token, so tokens need no shared storage.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from chatbot.errors import TokenExpired, Unauthorized

# Separates these signatures from anything else the same key might ever sign.
SALT = "ccseg-chat-session-v1"


@dataclass(frozen=True)
class SessionClaims:
    """What a valid token says: the session it binds and the origin it was issued to."""

    session_id: str
    origin: str


def new_session_id() -> str:
    """A random session id that matches the API's session-id pattern."""
    return secrets.token_urlsafe(18)


def ephemeral_signing_key() -> str:
    """For local runs without a configured key: valid until the process ends, on one instance."""
    return secrets.token_urlsafe(32)


def _signer_with_clock(clock: Callable[[], float]) -> type[TimestampSigner]:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockedSigner


class SessionTokens:
    """Issues and verifies session tokens with the current key, and the previous one if set."""

    def __init__(
        self,
        current_key: str,
        previous_key: str | None,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        keys = [key for key in (previous_key, current_key) if key]  # the last one signs
        self.ttl_seconds = ttl_seconds
        self._serializer = URLSafeTimedSerializer(
            keys,
            salt=SALT,
            signer=_signer_with_clock(clock),
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def issue(self, session_id: str, origin: str) -> str:
        return self._serializer.dumps({"sid": session_id, "org": origin})

    def verify(self, token: str) -> SessionClaims:
        """The token's claims, or Unauthorized / TokenExpired (never why a signature failed)."""
        try:
            payload = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired:
            raise TokenExpired() from None
        except BadSignature:
            raise Unauthorized() from None
        if not isinstance(payload, dict):
            raise Unauthorized()
        session_id, origin = payload.get("sid"), payload.get("org")
        if not isinstance(session_id, str) or not isinstance(origin, str):
            raise Unauthorized()
        return SessionClaims(session_id, origin)
