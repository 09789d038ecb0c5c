"""How the fake Bedrock paces work: sampled model latency and sliding-window quotas."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable

from chatbot.fake_bedrock_faults import TOO_MANY_REQUESTS, TOO_MANY_TOKENS

# z-score of the 99th percentile of a standard normal.
_Z_P99 = 2.3263478740408408


class LatencySampler:
    """Model latency: fixed at the median, or lognormal through the median and the p99.

    A lognormal is the usual shape of LLM latency: bounded below, with a long right tail.
    """

    def __init__(self, median_ms: float, p99_ms: float | None, rng: random.Random) -> None:
        if median_ms < 0:
            raise ValueError("latency_ms_median must not be negative")
        if p99_ms is not None and p99_ms < median_ms:
            raise ValueError("latency_ms_p99 must be at least latency_ms_median")
        self._median_ms = median_ms
        self._sigma = (
            0.0
            if p99_ms is None or median_ms == 0 or p99_ms == median_ms
            else (math.log(p99_ms) - math.log(median_ms)) / _Z_P99
        )
        self._rng = rng
        self._lock = threading.Lock()

    def sample_seconds(self) -> float:
        if self._median_ms == 0 or self._sigma == 0:
            return self._median_ms / 1000
        with self._lock:
            return self._rng.lognormvariate(math.log(self._median_ms), self._sigma) / 1000


class SlidingWindow:
    """Amounts admitted in the last `window_seconds`; admits while the total stays in `limit`."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._admitted: deque[tuple[float, int]] = deque()
        self._total = 0

    def _expire(self, now: float) -> None:
        while self._admitted and self._admitted[0][0] <= now - self.window_seconds:
            self._total -= self._admitted.popleft()[1]

    def fits(self, amount: int, now: float) -> bool:
        self._expire(now)
        return self._total + amount <= self.limit

    def add(self, amount: int, now: float) -> None:
        self._admitted.append((now, amount))
        self._total += amount


class Quotas:
    """Bedrock's on-demand quotas: requests and tokens per minute, checked in that order.

    A request is charged its input tokens plus its `max_tokens` when admitted, as Bedrock
    reserves output tokens up front; throttled requests are not charged. Returns the
    ThrottlingException message Bedrock sends, or None when the request is admitted.
    """

    def __init__(
        self,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._requests = (
            SlidingWindow(requests_per_minute, window_seconds) if requests_per_minute else None
        )
        self._tokens = (
            SlidingWindow(tokens_per_minute, window_seconds) if tokens_per_minute else None
        )
        self._clock = clock
        self._lock = threading.Lock()

    def admit(self, tokens: int) -> str | None:
        with self._lock:
            now = self._clock()
            if self._requests is not None and not self._requests.fits(1, now):
                return TOO_MANY_REQUESTS
            if self._tokens is not None and not self._tokens.fits(tokens, now):
                return TOO_MANY_TOKENS
            if self._requests is not None:
                self._requests.add(1, now)
            if self._tokens is not None:
                self._tokens.add(tokens, now)
            return None
