"""One question's upstream attempts: retries within the deadline, fallback model, circuit breaker.

botocore's own retries are off: its standard mode sleeps up to 1-2 s between attempts in the
calling thread, blind to our 1.8 s deadline, so the retry loop lives here, where it knows how
much of the budget is left. When the primary model is throttled or unavailable the next attempt
goes to the fallback model at once (no backoff: its quota is separate). The breaker hears one
verdict per question, and only about calls that really left for Bedrock: a deadline that passes
before any call was made (the pool was full, say) says nothing about Bedrock's health.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from chatbot.circuit_breaker import CircuitBreaker
from chatbot.errors import ChatError, DeadlineExceeded
from chatbot.model_routing import PRIMARY_FAILED, ModelChoice, ModelRouter
from chatbot.observability import ChatMetrics, log_event
from chatbot.settings import ChatbotSettings
from chatbot.upstream_errors import UpstreamFailure, classify, deadline_failure
from chatbot.upstream_pool import Deadline

T = TypeVar("T")
logger = logging.getLogger("chatbot.bedrock")


@dataclass
class Attempt:
    """One try: which model it asks, and whether the call has left for a thread yet."""

    number: int
    model_id: str
    submitted: bool = False


@dataclass(frozen=True)
class Attempted(Generic[T]):
    result: T
    attempts: int
    seconds: float  # the successful attempt's upstream time
    model_id: str


def log_upstream_failure(
    operation: str,
    failure: UpstreamFailure,
    request_id: str,
    model_id: str,
    attempt: int,
) -> None:
    """The one failure line: our request id and Bedrock's, for the two sides' logs to meet."""
    level = logging.ERROR if failure.outcome == "configuration" else logging.WARNING
    log_event(
        logger,
        level,
        "upstream_failure",
        request_id=request_id,
        aws_request_id=failure.aws_request_id,
        operation=operation,
        model_id=model_id,
        outcome=failure.outcome,
        attempt=attempt,
        detail=failure.detail,
    )


async def _within(
    attempt_once: Callable[[Attempt], Awaitable[T]], attempt: Attempt, seconds: float
) -> T:
    """The attempt, or TimeoutError after `seconds`; with no time left it never starts.

    A timeout scope in the calling task rather than `wait_for`, which runs the attempt in a
    task of its own and costs extra event-loop turns on the way to the thread and back.
    """
    if seconds <= 0:
        raise TimeoutError
    async with asyncio.timeout(seconds):
        return await attempt_once(attempt)


class UpstreamCalls:
    """Runs a question's attempts; the only place that feeds the breaker and the model router."""

    def __init__(
        self,
        settings: ChatbotSettings,
        metrics: ChatMetrics,
        breaker: CircuitBreaker,
        router: ModelRouter,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self.breaker = breaker
        self.router = router
        self._random = random.Random()

    def _backoff_seconds(self, attempt: int) -> float:
        ceiling = self._settings.retry_base_delay_seconds * 2 ** (attempt - 1)
        return self._random.uniform(ceiling / 2, ceiling)

    def _retry_delay(
        self, failure: UpstreamFailure, attempt: int, deadline: Deadline, switching: bool
    ) -> float:
        """Seconds to wait before retrying, or a negative number when no retry fits."""
        if not failure.retryable or attempt >= self._settings.max_attempts:
            return -1.0
        delay = 0.0 if switching else self._backoff_seconds(attempt)
        if deadline.remaining() - delay < self._settings.min_attempt_seconds:
            return -1.0
        return delay

    def _note_choice(self, choice: ModelChoice, request_id: str) -> None:
        if choice.fallback_reason is None:
            return
        self._metrics.fallbacks.labels(choice.fallback_reason).inc()
        if choice.fallback_reason == PRIMARY_FAILED:
            log_event(
                logger,
                logging.WARNING,
                "model_fallback",
                request_id=request_id,
                from_model=self.router.primary,
                to_model=choice.model_id,
            )

    def _note_failure(
        self, operation: str, failure: UpstreamFailure, attempt: Attempt, request_id: str
    ) -> None:
        self._metrics.upstream_calls.labels(operation, failure.outcome).inc()
        if failure.outcome == "throttled":
            self._metrics.throttles.labels("upstream").inc()
        log_upstream_failure(operation, failure, request_id, attempt.model_id, attempt.number)

    async def run(
        self,
        operation: str,
        attempt_once: Callable[[Attempt], Awaitable[T]],
        deadline: Deadline,
        request_id: str,
    ) -> Attempted[T]:
        """Attempts until success, a final failure or the deadline; one breaker verdict."""
        was_probe = self.breaker.acquire()
        verdict_given = False
        failed_models: list[str] = []
        number = 0
        try:
            while True:
                number += 1
                choice = self.router.choose(failed_models)
                self._note_choice(choice, request_id)
                attempt = Attempt(number, choice.model_id)
                started = time.perf_counter()
                try:
                    result = await _within(attempt_once, attempt, deadline.remaining())
                except ChatError:
                    raise  # admission refused: no call was made
                except TimeoutError:
                    if not attempt.submitted:
                        self._metrics.throttles.labels("deadline_before_upstream").inc()
                        raise DeadlineExceeded(scope="before_upstream") from None
                    failure = deadline_failure()
                except Exception as error:
                    failure = classify(error)
                else:
                    elapsed = time.perf_counter() - started
                    self._metrics.upstream_calls.labels(operation, "ok").inc()
                    self._metrics.upstream_seconds.labels(operation).observe(elapsed)
                    self.breaker.record_success()
                    verdict_given = True
                    return Attempted(result, number, elapsed, choice.model_id)
                self._metrics.upstream_seconds.labels(operation).observe(
                    time.perf_counter() - started
                )
                self._note_failure(operation, failure, attempt, request_id)
                switching = failure.calls_for_fallback and self.router.cool_down(choice.model_id)
                if switching:
                    failed_models.append(choice.model_id)
                delay = self._retry_delay(failure, number, deadline, switching)
                if delay >= 0:
                    await asyncio.sleep(delay)
                    continue
                if failure.breaker_failure:
                    self.breaker.record_failure()
                else:
                    self.breaker.record_success()  # upstream answered: it is up
                verdict_given = True
                raise failure.error
        finally:
            if not verdict_given:
                self.breaker.release(was_probe)
