"""The Bedrock client: one boto3 client per process, Converse(Stream), a deadline, bounded retries.

boto3 is blocking, so each call runs in a thread pool sized to the connection pool; a semaphore
admits at most `max_concurrent_upstream` calls and is released only when the thread really ends,
so abandoned calls cannot pile up behind the pool. botocore's own retries are off: its standard
mode sleeps up to 1-2 s between attempts in the calling thread, blind to our 1.8 s deadline, so
the retry loop lives here, where it knows how much of the budget is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from chatbot.bedrock_stream import (
    AnswerStream,
    FirstChunk,
    MalformedUpstreamResponse,
    StreamSink,
    first_chunk,
    note_usage,
    read_event_stream,
)
from chatbot.circuit_breaker import CircuitBreaker
from chatbot.errors import ChatError, ServiceBusy
from chatbot.observability import ChatMetrics, log_event
from chatbot.prompting import Prompt
from chatbot.settings import ChatbotSettings
from chatbot.upstream_errors import UpstreamFailure, classify, deadline_failure

T = TypeVar("T")
logger = logging.getLogger("chatbot.bedrock")


class Deadline:
    """The moment a request must be answered by; everything upstream shares it."""

    def __init__(self, seconds: float, started_at: float | None = None) -> None:
        self.expires_at = (time.monotonic() if started_at is None else started_at) + seconds

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()


@dataclass(frozen=True)
class ModelAnswer:
    text: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    attempts: int
    upstream_seconds: float


def make_boto3_client(
    settings: ChatbotSettings, session: boto3.session.Session | None = None
) -> BaseClient:
    """Credentials from the default chain only; AWS_ENDPOINT_URL_BEDROCK_RUNTIME may redirect it."""
    config = Config(
        region_name=settings.aws_region,
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        max_pool_connections=settings.max_pool_connections,
        retries={"mode": "standard", "total_max_attempts": 1},
        tcp_keepalive=True,
        user_agent_extra="ccseg-chatbot",
    )
    return (session or boto3.session.Session()).client("bedrock-runtime", config=config)


def parse_converse_response(response: dict[str, Any]) -> tuple[str, str, int, int]:
    """Text, stop reason and token counts, or MalformedUpstreamResponse (runs in the pool)."""
    try:
        blocks = response["output"]["message"]["content"]
        text = "".join(block["text"] for block in blocks if "text" in block)
        usage = response.get("usage", {})
        return (
            text,
            str(response.get("stopReason", "")),
            int(usage.get("inputTokens", 0)),
            int(usage.get("outputTokens", 0)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedUpstreamResponse(f"unexpected Converse response: {error!r}") from None


class BedrockChatClient:
    """Asks the model one question per call, within a deadline, failing fast when it is down."""

    def __init__(
        self,
        settings: ChatbotSettings,
        metrics: ChatMetrics,
        breaker: CircuitBreaker,
        client: BaseClient,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self.breaker = breaker
        self._client = client  # one per process (app lifespan): its pool is shared by all calls
        self._executor = ThreadPoolExecutor(
            max_workers=settings.max_pool_connections, thread_name_prefix="bedrock"
        )
        self._slots = asyncio.Semaphore(settings.max_concurrent_upstream)
        self._random = random.Random()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _request_kwargs(self, prompt: Prompt) -> dict[str, Any]:
        settings = self._settings
        kwargs: dict[str, Any] = {
            "modelId": settings.model_id,
            "system": [{"text": prompt.system}],
            "messages": [{"role": "user", "content": [{"text": prompt.user_content}]}],
            "inferenceConfig": {
                "maxTokens": settings.max_tokens,
                "temperature": settings.temperature,
            },
        }
        if settings.guardrail_id and settings.guardrail_version:
            kwargs["guardrailConfig"] = {
                "guardrailIdentifier": settings.guardrail_id,
                "guardrailVersion": settings.guardrail_version,
            }
        return kwargs

    async def _admit(self, deadline: Deadline) -> None:
        if self._slots.locked():
            wait = min(self._settings.admission_wait_seconds, max(deadline.remaining(), 0))
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=wait)
            except TimeoutError:
                self._metrics.throttles.labels("concurrency").inc()
                raise ServiceBusy(retry_after=1, scope="concurrency") from None
        else:
            await self._slots.acquire()
        self._metrics.upstream_in_flight.inc()

    def _release_slot(self) -> None:
        self._slots.release()
        self._metrics.upstream_in_flight.dec()

    async def _start_in_pool(self, call: Callable[[], T], deadline: Deadline) -> Future[T]:
        """Submit once a slot is free; the slot comes back when the thread ends, not before."""
        await self._admit(deadline)
        loop = asyncio.get_running_loop()
        try:
            future = self._executor.submit(call)
        except BaseException:
            self._release_slot()
            raise

        def release_from_thread(_: Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                loop.call_soon_threadsafe(self._release_slot)

        future.add_done_callback(release_from_thread)
        return future

    def _backoff_seconds(self, attempt: int) -> float:
        ceiling = self._settings.retry_base_delay_seconds * 2 ** (attempt - 1)
        return self._random.uniform(ceiling / 2, ceiling)

    def _should_retry(self, failure: UpstreamFailure, attempt: int, deadline: Deadline) -> float:
        """Seconds to wait before retrying, or a negative number when no retry fits."""
        if not failure.retryable or attempt >= self._settings.max_attempts:
            return -1.0
        delay = self._backoff_seconds(attempt)
        if deadline.remaining() - delay < self._settings.min_attempt_seconds:
            return -1.0
        return delay

    async def _with_retries(
        self, operation: str, attempt_once: Callable[[], Awaitable[T]], deadline: Deadline
    ) -> tuple[T, int, float]:
        """Run attempts until success, a final failure or the deadline; feed the breaker once."""
        was_probe = self.breaker.acquire()
        verdict_given = False
        attempt = 0
        try:
            while True:
                attempt += 1
                started = time.perf_counter()
                try:
                    result = await asyncio.wait_for(attempt_once(), max(deadline.remaining(), 0))
                except ChatError:
                    raise  # admission refused: no call was made
                except TimeoutError:
                    failure = deadline_failure()
                except Exception as error:
                    failure = classify(error)
                else:
                    elapsed = time.perf_counter() - started
                    self._metrics.upstream_calls.labels(operation, "ok").inc()
                    self._metrics.upstream_seconds.labels(operation).observe(elapsed)
                    self.breaker.record_success()
                    verdict_given = True
                    return result, attempt, elapsed
                self._note_failure(operation, failure, attempt, time.perf_counter() - started)
                delay = self._should_retry(failure, attempt, deadline)
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

    def _note_failure(
        self, operation: str, failure: UpstreamFailure, attempt: int, elapsed: float
    ) -> None:
        self._metrics.upstream_calls.labels(operation, failure.outcome).inc()
        self._metrics.upstream_seconds.labels(operation).observe(elapsed)
        if failure.outcome == "throttled":
            self._metrics.throttles.labels("upstream").inc()
        level = logging.ERROR if failure.outcome == "configuration" else logging.WARNING
        log_event(
            logger,
            level,
            "upstream_failure",
            operation=operation,
            outcome=failure.outcome,
            attempt=attempt,
            detail=failure.detail,
        )

    async def converse(self, prompt: Prompt, deadline: Deadline) -> ModelAnswer:
        """One Converse call (plus retries that fit the deadline) for one question."""
        kwargs = self._request_kwargs(prompt)

        def call() -> tuple[str, str, int, int]:
            return parse_converse_response(self._client.converse(**kwargs))

        async def attempt_once() -> tuple[str, str, int, int]:
            return await asyncio.wrap_future(await self._start_in_pool(call, deadline))

        (text, stop_reason, tokens_in, tokens_out), attempts, elapsed = await self._with_retries(
            "Converse", attempt_once, deadline
        )
        self._count_tokens(tokens_in, tokens_out)
        return ModelAnswer(text, stop_reason, tokens_in, tokens_out, attempts, elapsed)

    async def converse_stream(self, prompt: Prompt, deadline: Deadline) -> AnswerStream:
        """Open a ConverseStream and wait, within the deadline, for the first text."""
        kwargs = self._request_kwargs(prompt)
        loop = asyncio.get_running_loop()

        async def attempt_once() -> tuple[FirstChunk, StreamSink]:
            sink = StreamSink(loop)
            opener = partial(self._client.converse_stream, **kwargs)
            await self._start_in_pool(partial(read_event_stream, opener, sink), deadline)
            try:
                return await first_chunk(sink), sink
            except BaseException:
                sink.cancel()
                raise

        (first, sink), attempts, elapsed = await self._with_retries(
            "ConverseStream", attempt_once, deadline
        )
        stream = AnswerStream(
            first_text=first.text,
            sink=sink,
            gap_seconds=self._settings.read_timeout_seconds + 0.5,
            expires_at=time.monotonic() + self._settings.stream_max_seconds,
            attempts=attempts,
            upstream_seconds=elapsed,
            finished=first.ended,
        )
        for event in first.events:
            note_usage(event, stream.usage)
        return stream

    def _count_tokens(self, tokens_in: int, tokens_out: int) -> None:
        self._metrics.tokens.labels("input").inc(tokens_in)
        self._metrics.tokens.labels("output").inc(tokens_out)

    def count_stream_tokens(self, stream: AnswerStream) -> None:
        self._count_tokens(stream.usage.input_tokens, stream.usage.output_tokens)
