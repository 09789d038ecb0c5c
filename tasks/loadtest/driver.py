"""Open-loop load against the chat service over HTTP: arrival schedules and the step driver.

Open loop means each request leaves at its scheduled time whether or not earlier ones have
answered, as real users do; a closed loop (next request after the previous answer) slows down
with the service and hides overload. Latency is measured from the scheduled send time, so a
driver that falls behind, or a service that stalls, cannot hide the wait (no coordinated
omission). Every request is bounded by the timeout, so every step ends by itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from core.errors import ParameterError
from tasks.loadtest.session_tokens import (
    SessionRefused,
    SessionTokens,
    TokenMode,
    client_headers,
    error_code_of,
)

ArrivalProcess = Literal["poisson", "poisson_fixed_count", "constant"]
CHAT_PATH = "/api/chat"
MAX_REQUESTS = 100_000
# Headers a response cache may use to say whether it answered; the first one present counts.
CACHE_HEADERS = ("X-Cache", "X-Cache-Status", "X-Chatbot-Cache")
_OVERALL_TIMEOUT_MARGIN_SECONDS = 1.0
_UPSTREAM_TIMING = re.compile(r"upstream;dur=([0-9.]+)")


@dataclass(frozen=True)
class RequestOutcome:
    """One request: when it was due and sent (seconds from the step start), what came back.

    `latency_seconds` runs from the scheduled send time to the end of the answer (or failure).
    """

    scheduled_at: float
    sent_at: float
    latency_seconds: float
    status: int | None  # None: no HTTP answer (timeout, refused connection, ...)
    retry_after: str | None = None
    error: str | None = None  # the body's error code, or the transport failure's name
    abusive: bool = False
    cache: str | None = None  # "hit" / "miss" when the service says so
    upstream_ms: float | None = None  # the model's time, from Server-Timing
    token_renewed: bool = False
    session_id: str = ""


def require_loopback(base_url: str, allow_remote: bool = False) -> None:
    """Refuse to aim load at another machine unless the caller explicitly allows it."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ParameterError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if allow_remote:
        return
    host = parts.hostname
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ParameterError(
            f"refusing to load-test {host!r}: only loopback targets (127.0.0.1, ::1, localhost) "
            "are allowed; pass allow_remote=True only for a service you own and may load"
        )


def arrival_offsets(
    requests_per_minute: float,
    duration_seconds: float,
    seed: int = 0,
    process: ArrivalProcess = "poisson",
    max_requests: int = MAX_REQUESTS,
) -> list[float]:
    """Send times in seconds from the start: all before `duration_seconds`, at most `max_requests`.

    Poisson arrivals (exponential gaps, seeded) model independent users; `poisson_fixed_count`
    is the same process conditioned on its expected count (that many uniform times, sorted), so
    a step offers exactly its rate; constant arrivals are evenly spaced.
    """
    rate_per_second = requests_per_minute / 60
    if process == "constant":
        count = min(math.ceil(duration_seconds * rate_per_second), max_requests)
        return [index / rate_per_second for index in range(count)]
    rng = random.Random(seed)
    if process == "poisson_fixed_count":
        count = min(round(duration_seconds * rate_per_second), max_requests)
        return sorted(rng.uniform(0, duration_seconds) for _ in range(count))
    offsets: list[float] = []
    now = rng.expovariate(rate_per_second)
    while now < duration_seconds and len(offsets) < max_requests:
        offsets.append(now)
        now += rng.expovariate(rate_per_second)
    return offsets


def cache_state(headers: httpx.Headers) -> str | None:
    for name in CACHE_HEADERS:
        value = headers.get(name, "").lower()
        if "hit" in value:
            return "hit"
        if "miss" in value:
            return "miss"
    return None


def upstream_ms(headers: httpx.Headers) -> float | None:
    match = _UPSTREAM_TIMING.search(headers.get("Server-Timing", ""))
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class StepRequest:
    """What the driver sends: when, as whom, and the JSON body."""

    offset: float
    session_id: str
    client_ip: str
    body: dict
    abusive: bool = False


class _Sender:
    """Sends one question the way the widget does: token first, once more on a 401."""

    def __init__(self, client: httpx.AsyncClient, tokens: SessionTokens, origin: str) -> None:
        self.client = client
        self.tokens = tokens
        self.origin = origin

    async def ask(self, request: StepRequest) -> tuple[httpx.Response, bool]:
        headers = client_headers(self.origin, request.client_ip)
        auth = await self.tokens.authorization(request.session_id, request.client_ip)
        response = await self.client.post(CHAT_PATH, json=request.body, headers=headers | auth)
        if response.status_code == 401 and self.tokens.mode == "tokens":
            auth = await self.tokens.authorization(
                request.session_id, request.client_ip, renew=True
            )
            response = await self.client.post(CHAT_PATH, json=request.body, headers=headers | auth)
            return response, True
        return response, False

    async def outcome(
        self, request: StepRequest, started: float, timeout_seconds: float
    ) -> RequestOutcome:
        sent_at = time.perf_counter() - started

        def finished(status: int | None, **fields: object) -> RequestOutcome:
            latency = time.perf_counter() - started - request.offset
            return RequestOutcome(
                request.offset,
                sent_at,
                latency,
                status,
                abusive=request.abusive,
                session_id=request.session_id,
                **fields,
            )

        try:
            # httpx's timeout applies per phase (connect, write, read) and the token call adds
            # one more exchange: this bounds the whole question, a little after httpx's own.
            async with asyncio.timeout(timeout_seconds + _OVERALL_TIMEOUT_MARGIN_SECONDS):
                response, renewed = await self.ask(request)
        except SessionRefused as refusal:
            return finished(
                refusal.status, retry_after=refusal.retry_after, error=f"session/{refusal.code}"
            )
        except (httpx.HTTPError, TimeoutError) as error:
            name = "Timeout" if isinstance(error, TimeoutError) else type(error).__name__
            return finished(None, error=name)
        ok = response.status_code == 200
        return finished(
            response.status_code,
            retry_after=response.headers.get("Retry-After"),
            error=None if ok else error_code_of(response),
            cache=cache_state(response.headers),
            upstream_ms=upstream_ms(response.headers) if ok else None,
            token_renewed=renewed,
        )


def _pool_size(requests: Sequence[StepRequest], timeout_seconds: float) -> int:
    """Room for every request that can be in flight at once (rate x timeout), with headroom."""
    span = max((request.offset for request in requests), default=0.0)
    rate_per_second = len(requests) / max(span, 1.0)
    return max(64, min(2_000, math.ceil(2 * rate_per_second * timeout_seconds)))


@dataclass(frozen=True)
class StepRun:
    outcomes: list[RequestOutcome]
    token_mode: TokenMode
    tokens_fetched: int
    tokens_renewed: int


async def run_open_loop(
    base_url: str,
    requests: Sequence[StepRequest],
    timeout_seconds: float,
    origin: str,
    token_mode: TokenMode = "none",
) -> StepRun:
    """Fire each request at its offset, whatever the earlier ones are doing; wait for all."""
    pool = _pool_size(requests, timeout_seconds)
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=timeout_seconds, limits=limits, trust_env=False
    ) as client:
        tokens = SessionTokens(client, origin, token_mode)
        sender = _Sender(client, tokens, origin)
        started = time.perf_counter()
        pending: list[asyncio.Task[RequestOutcome]] = []
        for request in requests:
            delay = request.offset - (time.perf_counter() - started)
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(sender.outcome(request, started, timeout_seconds)))
        outcomes = list(await asyncio.gather(*pending))
    return StepRun(outcomes, tokens.mode, tokens.fetched, tokens.renewed)
