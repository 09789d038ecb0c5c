"""One question end to end: client limits, circuit, global budget, prompt, one model call, log."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from chatbot.bedrock import BedrockChatClient, Deadline, ModelAnswer
from chatbot.bedrock_stream import AnswerStream
from chatbot.errors import ChatError
from chatbot.models import ChatRequest
from chatbot.observability import ChatMetrics, log_event, pseudonymize
from chatbot.prompting import Prompt, build_prompt, build_system_prompt
from chatbot.rate_limits import ChatRateLimiter
from chatbot.settings import ChatbotSettings

logger = logging.getLogger("chatbot.chat")


class ChatService:
    """Answers questions about a page; the only place that decides whether a model call happens.

    Conversation history: none. Each question is answered from the page the visitor is on and
    the question itself; see REVIEW.md for why (budget, cost, privacy, stateless scaling).
    """

    def __init__(
        self,
        settings: ChatbotSettings,
        bedrock: BedrockChatClient,
        limiter: ChatRateLimiter,
        metrics: ChatMetrics,
    ) -> None:
        self._settings = settings
        self._bedrock = bedrock
        self._limiter = limiter
        self._metrics = metrics
        self.system_prompt = build_system_prompt(settings.site_name)

    async def _admit(self, request: ChatRequest, client_ip: str) -> Prompt:
        """Cheapest refusals first; the global budget is only spent on calls that will happen."""
        try:
            await self._limiter.admit_client(client_ip, request.session_id)
            self._bedrock.breaker.check()
            prompt = build_prompt(request, self.system_prompt, self._settings.page_token_budget)
            reserved = prompt.input_tokens + self._settings.max_tokens
            await self._limiter.admit_model_call(reserved)
        except ChatError as error:
            if error.scope:
                self._metrics.throttles.labels(error.scope).inc()
            raise
        return prompt

    async def answer(
        self, request: ChatRequest, client_ip: str, request_id: str, received_at: float
    ) -> ModelAnswer:
        deadline = Deadline(self._settings.deadline_seconds, started_at=received_at)
        prompt = await self._admit(request, client_ip)
        answer = await self._bedrock.converse(prompt, deadline)
        self._log_answer(request, request_id, answer.text, answer.attempts, prompt)
        return answer

    async def open_stream(
        self, request: ChatRequest, client_ip: str, received_at: float
    ) -> AnswerStream:
        """Admit the question and wait for the first token; errors before it are plain HTTP."""
        deadline = Deadline(self._settings.deadline_seconds, started_at=received_at)
        prompt = await self._admit(request, client_ip)
        return await self._bedrock.converse_stream(prompt, deadline)

    def finish_stream(
        self, request: ChatRequest, request_id: str, stream: AnswerStream, text: str
    ) -> None:
        self._bedrock.count_stream_tokens(stream)
        self._log_answer(request, request_id, text, stream.attempts, None)

    def _log_answer(
        self,
        request: ChatRequest,
        request_id: str,
        answer: str,
        attempts: int,
        prompt: Prompt | None,
    ) -> None:
        fields: dict[str, Any] = {
            "request_id": request_id,
            "session": pseudonymize(request.session_id),
            "page_host": urlsplit(request.page.url).hostname or "",
            "message_chars": len(request.message),
            "page_chars": len(request.page.text),
            "answer_chars": len(answer),
            "attempts": attempts,
        }
        if prompt is not None:
            fields["prompt_tokens_estimate"] = prompt.input_tokens
        if self._settings.log_message_contents:
            fields["message"] = request.message
            fields["answer"] = answer
        log_event(logger, logging.INFO, "chat_answered", **fields)
