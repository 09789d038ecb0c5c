"""One question end to end: limits, cache, budgets, circuit, one model call (or none), log.

Conversation history: none. Each question is answered from the page the visitor is on and the
question itself; see REVIEW.md for why (budget, cost, privacy, stateless scaling).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chatbot.answer_cache import AnswerCache, CachedAnswer, answer_cache_key
from chatbot.auth import Caller
from chatbot.bedrock import BedrockChatClient, Deadline, ModelAnswer
from chatbot.bedrock_stream import AnswerStream
from chatbot.daily_budget import DailyTokenBudget
from chatbot.errors import ChatError
from chatbot.models import ChatRequest
from chatbot.observability import ChatMetrics, log_event, pseudonymize
from chatbot.prompting import Prompt, build_prompt, build_system_prompt
from chatbot.rate_limits import ChatRateLimiter
from chatbot.settings import ChatbotSettings
from chatbot.upstream_calls import log_upstream_failure

logger = logging.getLogger("chatbot.chat")


@dataclass(frozen=True)
class Admitted:
    """A question cleared to go upstream, or already answered from the cache."""

    prompt: Prompt
    cache_key: str | None
    cached: CachedAnswer | None


class ChatService:
    """Answers questions about a page; the only place that decides whether a model call happens."""

    def __init__(
        self,
        settings: ChatbotSettings,
        bedrock: BedrockChatClient,
        limiter: ChatRateLimiter,
        budget: DailyTokenBudget,
        cache: AnswerCache | None,
        metrics: ChatMetrics,
    ) -> None:
        self._settings = settings
        self._bedrock = bedrock
        self._limiter = limiter
        self._budget = budget
        self._cache = cache
        self._metrics = metrics
        self.system_prompt = build_system_prompt(settings.site_name)

    async def _admit(self, request: ChatRequest, caller: Caller, request_id: str) -> Admitted:
        """Cheapest refusals first; budgets are only spent on calls that will happen.

        Request counts come before the cache, so cached answers cannot be scraped beyond a
        client's limits; tokens, the breaker and the daily budget come after it, so a cached
        answer is served even when the model is down or today's budget is spent.
        """
        session = caller.limit_session(request)
        try:
            await self._limiter.admit_client(caller.client_ip, session)
            prompt = build_prompt(request, self.system_prompt, self._settings.page_token_budget)
            key = None
            if self._cache is not None:
                key = answer_cache_key(request, prompt.page_text, self._settings)
                cached = await self._cache.lookup(key, request_id)
                if cached is not None:
                    return Admitted(prompt, key, cached)
            self._bedrock.breaker.check()
            await self._budget.check()
            reserved = prompt.input_tokens + self._settings.max_tokens
            await self._limiter.admit_client_tokens(caller.client_ip, session, reserved)
            await self._limiter.admit_model_call(reserved)
        except ChatError as error:
            if error.scope:
                self._metrics.throttles.labels(error.scope).inc()
            raise
        return Admitted(prompt, key, None)

    def _upstream_starts(self, body_read_at: float) -> Deadline:
        """The deadline starts now: the body is in hand and the question is admitted."""
        now = time.monotonic()
        self._metrics.phase_seconds.labels("admission").observe(now - body_read_at)
        return Deadline(self._settings.deadline_seconds, started_at=now)

    async def answer(
        self, request: ChatRequest, caller: Caller, request_id: str, body_read_at: float
    ) -> ModelAnswer:
        admitted = await self._admit(request, caller, request_id)
        if admitted.cached is not None:
            return self._from_cache(request, request_id, admitted, admitted.cached)
        deadline = self._upstream_starts(body_read_at)
        try:
            answer = await self._bedrock.converse(admitted.prompt, deadline, request_id)
        finally:
            self._observe_upstream(deadline)
        tokens = answer.input_tokens + answer.output_tokens
        await self._remember(admitted, answer.text, answer.stop_reason, request_id, tokens)
        self._log_answer(
            request, request_id, answer.text, answer.attempts, admitted, answer.model_id
        )
        return answer

    async def open_stream(
        self, request: ChatRequest, caller: Caller, request_id: str, body_read_at: float
    ) -> tuple[AnswerStream | ModelAnswer, Admitted]:
        """Admit the question and wait for the first token; errors before it are plain HTTP."""
        admitted = await self._admit(request, caller, request_id)
        if admitted.cached is not None:
            return self._from_cache(request, request_id, admitted, admitted.cached), admitted
        deadline = self._upstream_starts(body_read_at)
        try:
            stream = await self._bedrock.converse_stream(admitted.prompt, deadline, request_id)
        finally:
            self._observe_upstream(deadline)
        return stream, admitted

    def end_stream(
        self,
        request: ChatRequest,
        request_id: str,
        stream: AnswerStream,
        admitted: Admitted,
        text: str,
    ) -> None:
        """Count and log how a stream ended: answered, broken (an upstream failure) or left."""
        self._bedrock.count_stream_tokens(stream)
        if stream.failure is not None:
            self._metrics.upstream_calls.labels("ConverseStream", stream.failure.outcome).inc()
            log_upstream_failure(
                "ConverseStream", stream.failure, request_id, stream.model_id, stream.attempts
            )
        elif stream.finished:
            self._log_answer(request, request_id, text, stream.attempts, admitted, stream.model_id)
        else:
            log_event(logger, logging.INFO, "chat_abandoned", request_id=request_id)

    async def remember_stream(
        self, request_id: str, stream: AnswerStream, admitted: Admitted, text: str
    ) -> None:
        """After a stream's `done`: charge the budget and keep the answer for the cache."""
        usage = stream.usage
        tokens = usage.input_tokens + usage.output_tokens
        await self._remember(admitted, text, usage.stop_reason, request_id, tokens)

    def _from_cache(
        self, request: ChatRequest, request_id: str, admitted: Admitted, cached: CachedAnswer
    ) -> ModelAnswer:
        self._log_answer(request, request_id, cached.text, 0, admitted, "")
        return ModelAnswer(cached.text, cached.stop_reason, 0, 0, 0, 0.0, cached=True)

    async def _remember(
        self, admitted: Admitted, text: str, stop_reason: str, request_id: str, tokens: int
    ) -> None:
        await self._budget.charge(tokens, request_id)
        if self._cache is not None and admitted.cache_key is not None and text:
            answer = CachedAnswer(text, stop_reason)
            await self._cache.store(admitted.cache_key, answer, request_id)

    def _observe_upstream(self, deadline: Deadline) -> None:
        started = deadline.expires_at - self._settings.deadline_seconds
        self._metrics.phase_seconds.labels("upstream").observe(time.monotonic() - started)

    def _log_answer(
        self,
        request: ChatRequest,
        request_id: str,
        answer: str,
        attempts: int,
        admitted: Admitted,
        model_id: str,
    ) -> None:
        fields: dict[str, Any] = {
            "request_id": request_id,
            "session": pseudonymize(request.session_id),
            "page_host": urlsplit(request.page.url).hostname or "",
            "message_chars": len(request.message),
            "page_chars": len(request.page.text),
            "answer_chars": len(answer),
            "attempts": attempts,
            "cached": admitted.cached is not None,
            "model_id": model_id,
            "prompt_tokens_estimate": admitted.prompt.input_tokens,
        }
        if self._settings.log_message_contents:
            fields["message"] = request.message
            fields["answer"] = answer
        log_event(logger, logging.INFO, "chat_answered", **fields)
