"""Open-loop load against the chat service over HTTP: arrival schedule, driver and summary.

Open loop means each request leaves at its scheduled time whether or not earlier ones have
answered, as real users do; a closed loop (next request after the previous answer) slows down
with the service and hides overload. The schedule is bounded in count and duration, and the
driver waits at most one request timeout past the last arrival, so every run ends by itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from core.errors import ParameterError

ArrivalProcess = Literal["poisson", "constant"]
CHAT_PATH = "/api/chat"
# Where `ccseg chatbot serve` listens by default (chatbot/settings.py: host, port).
DEFAULT_CHAT_URL = "http://127.0.0.1:8080"
MAX_REQUESTS = 100_000
MAX_DURATION_SECONDS = 3_600.0

_QUESTIONS = (
    "What does this page say about fees?",
    "How do I raise my credit limit?",
    "Summarise this page in one sentence.",
    "Is there an annual fee on this card?",
    "How long does a balance transfer take?",
)
_PAGES = (
    ("https://www.example.com/cards/fees", "Card fees and charges"),
    ("https://www.example.com/help/credit-limit", "Changing your credit limit"),
    ("https://www.example.com/cards/balance-transfer", "Balance transfers"),
)


@dataclass(frozen=True)
class RequestOutcome:
    """One request: when it was due and sent (seconds from the start), and what came back."""

    scheduled_at: float
    sent_at: float
    latency_seconds: float
    status: int | None  # None: no HTTP answer (timeout, refused connection, ...)
    retry_after: str | None = None
    error: str | None = None


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


def validate_load(
    requests_per_minute: float,
    duration_seconds: float,
    session_count: int,
    timeout_seconds: float,
    max_requests: int,
) -> None:
    if not 0 < requests_per_minute <= MAX_REQUESTS:
        raise ParameterError(f"requests_per_minute must be within (0, {MAX_REQUESTS}]")
    if not 0 < duration_seconds <= MAX_DURATION_SECONDS:
        raise ParameterError(f"duration_seconds must be within (0, {MAX_DURATION_SECONDS:.0f}]")
    if session_count < 1:
        raise ParameterError("session_count must be at least 1")
    if not 0 < timeout_seconds <= 120:
        raise ParameterError("timeout_seconds must be within (0, 120]")
    if not 0 < max_requests <= MAX_REQUESTS:
        raise ParameterError(f"max_requests must be within [1, {MAX_REQUESTS}]")


def arrival_offsets(
    requests_per_minute: float,
    duration_seconds: float,
    seed: int = 0,
    process: ArrivalProcess = "poisson",
    max_requests: int = MAX_REQUESTS,
) -> list[float]:
    """Send times in seconds from the start: all before `duration_seconds`, at most `max_requests`.

    Poisson arrivals (exponential gaps, seeded) model independent users; constant arrivals
    are evenly spaced.
    """
    rate_per_second = requests_per_minute / 60
    if process == "constant":
        count = min(math.ceil(duration_seconds * rate_per_second), max_requests)
        return [index / rate_per_second for index in range(count)]
    rng = random.Random(seed)
    offsets: list[float] = []
    now = rng.expovariate(rate_per_second)
    while now < duration_seconds and len(offsets) < max_requests:
        offsets.append(now)
        now += rng.expovariate(rate_per_second)
    return offsets


def chat_request(index: int, session_count: int, seed: int) -> dict[str, Any]:
    """The chat contract's body; sessions are reused round-robin, as returning visitors."""
    url, title = _PAGES[index % len(_PAGES)]
    return {
        "message": _QUESTIONS[index % len(_QUESTIONS)],
        "page": {"url": url, "title": title, "text": f"{title}. " * 40},
        "session_id": f"loadtest-{seed}-{index % session_count:04d}",
    }


async def _send(
    client: httpx.AsyncClient, body: dict[str, Any], scheduled_at: float, started: float
) -> RequestOutcome:
    sent_at = time.perf_counter() - started
    try:
        response = await client.post(CHAT_PATH, json=body)
    except httpx.HTTPError as error:
        latency = time.perf_counter() - started - sent_at
        return RequestOutcome(scheduled_at, sent_at, latency, None, error=type(error).__name__)
    latency = time.perf_counter() - started - sent_at
    retry_after = response.headers.get("Retry-After")
    return RequestOutcome(scheduled_at, sent_at, latency, response.status_code, retry_after)


def _pool_size(offsets: Sequence[float], timeout_seconds: float) -> int:
    """Room for every request that can be in flight at once (rate x timeout), with headroom."""
    rate_per_second = len(offsets) / max(offsets[-1], 1.0) if offsets else 0.0
    return max(64, min(2_000, math.ceil(2 * rate_per_second * timeout_seconds)))


async def run_open_loop(
    base_url: str,
    offsets: Sequence[float],
    session_count: int,
    timeout_seconds: float,
    seed: int = 0,
) -> list[RequestOutcome]:
    """Fire one request per offset on schedule; wait at most one timeout past the last one."""
    pool = _pool_size(offsets, timeout_seconds)
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=timeout_seconds, limits=limits, trust_env=False
    ) as client:
        started = time.perf_counter()
        pending: list[asyncio.Task[RequestOutcome]] = []
        for index, offset in enumerate(offsets):
            delay = offset - (time.perf_counter() - started)
            if delay > 0:
                await asyncio.sleep(delay)
            body = chat_request(index, session_count, seed)
            pending.append(asyncio.create_task(_send(client, body, offset, started)))
        if not pending:
            return []
        # httpx's timeout applies per phase (connect, write, read), so one request can outlast
        # it; this overall deadline keeps the run bounded.
        done, late = await asyncio.wait(pending, timeout=timeout_seconds + 1.0)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    return [
        task.result()
        if task in done
        else RequestOutcome(offset, offset, timeout_seconds, None, error="DriverDeadline")
        for task, offset in zip(pending, offsets, strict=True)
    ]
