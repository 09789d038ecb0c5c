"""Per-client and service-wide limits with the `limits` library (memory, or Redis when scaled out).

Sliding-window counters cost O(1) storage per key and accept a cost per hit, so the same windows
count requests and tokens. A client is limited twice over, per IP and per session (the session
its token names): in requests, and in tokens reserved up front (prompt estimate + max output),
because a few maximum-size questions cost as much as many small ones. With several instances,
point `CHATBOT_RATE_LIMIT_STORAGE_URI` at one Redis so every instance counts against the same
windows.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from chatbot.errors import ClientRateLimited, ServiceBusy
from chatbot.settings import ChatbotSettings


def async_storage_uri(uri: str) -> str:
    """The `limits` async spelling of a storage URI (`memory://` becomes `async+memory://`)."""
    return uri if uri.startswith("async+") else f"async+{uri}"


def _storage_options(uri: str) -> dict[str, str]:
    # limits defaults to the coredis client for async Redis; redis-py is the one installed.
    scheme = uri.split("://", 1)[0]
    return {"implementation": "redispy"} if "redis" in scheme else {}


def make_storage(settings: ChatbotSettings) -> Storage:
    uri = async_storage_uri(settings.rate_limit_storage_uri)
    storage = storage_from_string(uri, **_storage_options(uri))
    assert isinstance(storage, Storage)
    return storage


class ChatRateLimiter:
    """Admits a question for a client (IP and session), then against the model's global quota."""

    def __init__(self, settings: ChatbotSettings, storage: Storage) -> None:
        self._storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._per_ip: RateLimitItem = parse(settings.ip_rate_limit)
        self._per_session: RateLimitItem = parse(settings.session_rate_limit)
        self._ip_tokens: RateLimitItem = parse(settings.ip_token_rate_limit)
        self._session_tokens: RateLimitItem = parse(settings.session_token_rate_limit)
        self._grants: RateLimitItem = parse(settings.session_grant_rate_limit)
        self._global_requests = RateLimitItemPerMinute(settings.global_requests_per_minute)
        self._global_tokens = RateLimitItemPerMinute(settings.global_tokens_per_minute)

    async def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = await self._limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def _hit_or_refuse(
        self, item: RateLimitItem, scope: str, identifier: str, cost: int = 1
    ) -> None:
        if not await self._limiter.hit(item, scope, identifier, cost=cost):
            retry_after = await self._retry_after(item, scope, identifier)
            raise ClientRateLimited(retry_after=retry_after, scope=scope)

    async def admit_session_grant(self, client_ip: str) -> None:
        """Raise ClientRateLimited when this IP asked for too many session tokens."""
        await self._hit_or_refuse(self._grants, "session_grant", client_ip)

    async def admit_client(self, client_ip: str, session_id: str) -> None:
        """Raise ClientRateLimited when this IP or this session asked too often."""
        await self._hit_or_refuse(self._per_ip, "ip", client_ip)
        await self._hit_or_refuse(self._per_session, "session", session_id)

    async def admit_client_tokens(self, client_ip: str, session_id: str, tokens: int) -> None:
        """Raise ClientRateLimited when this IP or session would spend too many tokens."""
        await self._hit_or_refuse(self._ip_tokens, "ip_tokens", client_ip, tokens)
        await self._hit_or_refuse(self._session_tokens, "session_tokens", session_id, tokens)

    async def admit_model_call(self, reserved_tokens: int) -> None:
        """Raise ServiceBusy when the service-wide request or token budget is spent.

        Tokens are reserved up front (prompt estimate plus max output), as Bedrock itself counts
        max_tokens against the tokens-per-minute quota when a request starts.
        """
        if not await self._limiter.hit(self._global_requests, "global", "requests"):
            retry_after = await self._retry_after(self._global_requests, "global", "requests")
            raise ServiceBusy(retry_after=retry_after, scope="global_requests")
        if not await self._limiter.hit(
            self._global_tokens, "global", "tokens", cost=reserved_tokens
        ):
            retry_after = await self._retry_after(self._global_tokens, "global", "tokens")
            raise ServiceBusy(retry_after=retry_after, scope="global_tokens")

    async def storage_reachable(self) -> bool:
        try:
            return bool(await self._storage.check())
        except Exception:  # a readiness probe reports, it never raises
            return False
