"""The Bedrock client: one boto3 client per process, Converse and ConverseStream per question.

The attempts themselves (retries within the deadline, the fallback model, the circuit breaker)
live in `upstream_calls.py`; the threads the blocking calls run in, in `upstream_pool.py`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

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
from chatbot.model_routing import ModelRouter
from chatbot.observability import ChatMetrics
from chatbot.prompting import Prompt
from chatbot.settings import ChatbotSettings
from chatbot.upstream_calls import Attempt, UpstreamCalls
from chatbot.upstream_pool import Deadline, UpstreamPool

__all__ = ["BedrockChatClient", "Deadline", "ModelAnswer", "make_boto3_client"]


@dataclass(frozen=True)
class ModelAnswer:
    text: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    attempts: int
    upstream_seconds: float
    model_id: str = ""
    cached: bool = False


@dataclass(frozen=True)
class ParsedAnswer:
    text: str
    stop_reason: str
    input_tokens: int
    output_tokens: int


def make_boto3_client(
    settings: ChatbotSettings, session: boto3.session.Session | None = None
) -> BaseClient:
    """Credentials from the default chain only; AWS_ENDPOINT_URL_BEDROCK_RUNTIME may redirect it."""
    config = Config(
        region_name=settings.aws_region,
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        max_pool_connections=settings.max_pool_connections,
        # Explicit, because botocore's default mode changed between versions (legacy: 5
        # attempts; standard: 3); our own loop retries, knowing the deadline.
        retries={"mode": "standard", "total_max_attempts": 1},
        tcp_keepalive=True,
        user_agent_extra="ccseg-chatbot",
        # The request is built here from fields the API has already validated; botocore's
        # per-call walk of it against the service model only costs time on every question.
        parameter_validation=False,
    )
    return (session or boto3.session.Session()).client("bedrock-runtime", config=config)


def parse_converse_response(response: dict[str, Any]) -> ParsedAnswer:
    """Text, stop reason and token counts, or MalformedUpstreamResponse (runs in the pool)."""
    try:
        blocks = response["output"]["message"]["content"]
        text = "".join(block["text"] for block in blocks if "text" in block)
        usage = response.get("usage", {})
        return ParsedAnswer(
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
        self._pool = UpstreamPool(settings, metrics)
        self.router = ModelRouter(
            settings.model_id, settings.fallback_model_id, settings.model_cooldown_seconds
        )
        self._calls = UpstreamCalls(settings, metrics, breaker, self.router)

    def close(self) -> None:
        self._pool.close()

    def _request_kwargs(self, prompt: Prompt, model_id: str) -> dict[str, Any]:
        settings = self._settings
        kwargs: dict[str, Any] = {
            "modelId": model_id,
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

    async def converse(self, prompt: Prompt, deadline: Deadline, request_id: str) -> ModelAnswer:
        """One Converse call (plus retries or a fallback that fit the deadline) for a question."""

        async def attempt_once(attempt: Attempt) -> ParsedAnswer:
            kwargs = self._request_kwargs(prompt, attempt.model_id)

            def call() -> ParsedAnswer:
                return parse_converse_response(self._client.converse(**kwargs))

            future = await self._pool.start(call, deadline)
            attempt.submitted = True
            return await asyncio.wrap_future(future)

        done = await self._calls.run("Converse", attempt_once, deadline, request_id)
        answer = done.result
        self._count_tokens(answer.input_tokens, answer.output_tokens)
        return ModelAnswer(
            answer.text,
            answer.stop_reason,
            answer.input_tokens,
            answer.output_tokens,
            done.attempts,
            done.seconds,
            done.model_id,
        )

    async def converse_stream(
        self, prompt: Prompt, deadline: Deadline, request_id: str
    ) -> AnswerStream:
        """Open a ConverseStream and wait, within the deadline, for the first text."""
        loop = asyncio.get_running_loop()

        async def attempt_once(attempt: Attempt) -> tuple[FirstChunk, StreamSink]:
            sink = StreamSink(loop)
            opener = partial(
                self._client.converse_stream, **self._request_kwargs(prompt, attempt.model_id)
            )
            await self._pool.start(partial(read_event_stream, opener, sink), deadline)
            attempt.submitted = True
            try:
                return await first_chunk(sink), sink
            except BaseException:
                sink.cancel()
                raise

        done = await self._calls.run("ConverseStream", attempt_once, deadline, request_id)
        first, sink = done.result
        stream = AnswerStream(
            first_text=first.text,
            sink=sink,
            gap_seconds=self._settings.read_timeout_seconds + 0.5,
            expires_at=time.monotonic() + self._settings.stream_max_seconds,
            attempts=done.attempts,
            upstream_seconds=done.seconds,
            model_id=done.model_id,
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
