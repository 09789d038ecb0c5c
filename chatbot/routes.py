"""The HTTP endpoints: chat (JSON and server-sent events), liveness, readiness and metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatbot.auth import Caller, authenticate
from chatbot.bedrock import ModelAnswer
from chatbot.bedrock_stream import AnswerStream
from chatbot.chat import Admitted, ChatService
from chatbot.errors import ChatError, error_body
from chatbot.middleware import body_read_at_of, request_id_of
from chatbot.models import ChatRequest, ChatResponse, ErrorResponse, HealthResponse
from chatbot.settings import ChatbotSettings

router = APIRouter()
metrics_router = APIRouter()  # only on the public port outside production

_ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    401: "No valid session token (missing, malformed, expired: see POST /api/session).",
    403: "The token was issued to another origin or session.",
    408: "The body arrived too slowly.",
    413: "The body is larger than the limit.",
    415: "The body is not application/json.",
    422: "A field is missing, of the wrong type, too long or not allowed.",
    429: "This client or the whole service is over its limit (see Retry-After).",
    502: "The model gave an unusable answer.",
    503: "The model is throttled or unavailable, or today's budget is spent (see Retry-After).",
    504: "The deadline passed before the model answered.",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in _ERROR_DESCRIPTIONS.items()
}
SSE_DESCRIPTION = (
    'Server-sent events: `delta` events carry `{"text": ...}` chunks in order, then one `done` '
    'event `{"request_id", "stop_reason"}`, or one `error` event with the error body if the '
    "stream breaks after it started. Errors before the first token are plain JSON errors."
)


def _service(request: Request) -> ChatService:
    return request.app.state.chat


def _settings(request: Request) -> ChatbotSettings:
    return request.app.state.settings


def _timing_headers(request: Request, answer: ModelAnswer | AnswerStream) -> dict[str, str]:
    if not _settings(request).server_timing_enabled:
        return {}
    if isinstance(answer, ModelAnswer) and answer.cached:
        return {"Server-Timing": 'cache;desc="hit"'}
    return {"Server-Timing": f"upstream;dur={answer.upstream_seconds * 1000:.1f}"}


AuthenticatedCaller = Annotated[Caller, Depends(authenticate)]


@router.post("/api/chat", response_model=ChatResponse, responses=ERROR_RESPONSES)
async def chat(body: ChatRequest, caller: AuthenticatedCaller, request: Request) -> JSONResponse:
    """Answer one question about the page, in one piece."""
    request_id = request_id_of(request.scope)
    answer = await _service(request).answer(
        body, caller, request_id, body_read_at_of(request.scope)
    )
    return JSONResponse(
        {"answer": answer.text, "request_id": request_id},
        headers=_timing_headers(request, answer),
    )


def sse_event(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _sse_body(
    service: ChatService,
    body: ChatRequest,
    request_id: str,
    stream: AnswerStream,
    admitted: Admitted,
) -> AsyncIterator[bytes]:
    parts = [stream.first_text]
    completed = False
    try:
        if stream.first_text:
            yield sse_event("delta", {"text": stream.first_text})
        async for text in stream.rest():
            parts.append(text)
            yield sse_event("delta", {"text": text})
        completed = True
        yield sse_event("done", {"request_id": request_id, "stop_reason": stream.usage.stop_reason})
    except ChatError as error:
        yield sse_event("error", error_body(error, request_id))
    finally:
        stream.close()
        service.end_stream(body, request_id, stream, admitted, "".join(parts))
    # Only reached when the stream ran to its end (a client that left cancels the generator).
    if completed:
        await service.remember_stream(request_id, stream, admitted, "".join(parts))


async def _cached_sse_body(request_id: str, answer: ModelAnswer) -> AsyncIterator[bytes]:
    yield sse_event("delta", {"text": answer.text})
    yield sse_event("done", {"request_id": request_id, "stop_reason": answer.stop_reason})


@router.post(
    "/api/chat/stream",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": SSE_DESCRIPTION},
        **ERROR_RESPONSES,
    },
    response_class=StreamingResponse,
)
async def chat_stream(
    body: ChatRequest, caller: AuthenticatedCaller, request: Request
) -> StreamingResponse:
    """Answer one question about the page as server-sent events, for a fast first token."""
    request_id = request_id_of(request.scope)
    service = _service(request)
    stream, admitted = await service.open_stream(
        body, caller, request_id, body_read_at_of(request.scope)
    )
    headers = {"X-Accel-Buffering": "no"}  # Cache-Control: no-store comes from the middleware
    headers.update(_timing_headers(request, stream))
    events = (
        _cached_sse_body(request_id, stream)
        if isinstance(stream, ModelAnswer)
        else _sse_body(service, body, request_id, stream, admitted)
    )
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """Liveness: the process answers HTTP."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: configuration and dependencies of our own are in place (the model is not)."""
    state = request.app.state
    checks = {
        "settings": "ok",
        "bedrock_client": "ok" if getattr(state, "chat", None) else "missing",
        "credentials": "ok" if state.credentials_found else "missing",
        "rate_limit_storage": "ok" if await state.limiter.storage_reachable() else "unreachable",
    }
    if state.answer_cache is not None:
        checks["answer_cache"] = "ok" if await _cache_reachable(request) else "unreachable"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        HealthResponse(status="ready" if ready else "not_ready", checks=checks).model_dump(),
        status_code=200 if ready else 503,
    )


async def _cache_reachable(request: Request) -> bool:
    try:
        return await request.app.state.answer_cache.backend.reachable()
    except Exception:  # a readiness probe reports, it never raises
        return False


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition for local runs; production serves it on CHATBOT_METRICS_PORT."""
    payload = generate_latest(request.app.state.metrics.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
