"""A circuit breaker: after N consecutive upstream failures, fail fast until a cool-down passes.

While open, requests get 503 at once instead of each waiting out the deadline against a model
that is down, which keeps threads, connections and the visitors' patience free. After the
cool-down one probe request is let through (half-open); its outcome closes or re-opens the circuit.
Used from the event loop only, so it needs no lock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum

from chatbot.errors import ModelUnavailable


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures, opens at `failure_threshold`, probes after the cool-down."""

    def __init__(
        self,
        failure_threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failure_threshold = failure_threshold
        self._cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at < self._cooldown_seconds:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def _open_error(self) -> ModelUnavailable:
        remaining = 1.0
        if self._opened_at is not None:
            remaining = self._opened_at + self._cooldown_seconds - self._clock()
        return ModelUnavailable(retry_after=max(1, math.ceil(remaining)), scope="circuit_open")

    def check(self) -> None:
        """Raise ModelUnavailable while open, without taking the half-open probe slot."""
        state = self.state
        if state is CircuitState.OPEN or (
            state is CircuitState.HALF_OPEN and self._probe_in_flight
        ):
            raise self._open_error()

    def acquire(self) -> bool:
        """Admit a call or raise ModelUnavailable; True when the call is the half-open probe."""
        self.check()
        if self.state is CircuitState.HALF_OPEN:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._consecutive_failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._consecutive_failures += 1
        if self._probe_in_flight or self._consecutive_failures >= self._failure_threshold:
            self._opened_at = self._clock()
        self._probe_in_flight = False

    def release(self, was_probe: bool) -> None:
        """The call ended with no verdict on upstream health (e.g. the visitor went away)."""
        if was_probe:
            self._probe_in_flight = False
