"""The HTTP endpoints: chat (JSON and server-sent events), liveness, readiness and metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatbot.bedrock_stream import AnswerStream
from chatbot.chat import ChatService
from chatbot.errors import ChatError, error_body
from chatbot.middleware import client_ip_of, received_at_of, request_id_of
from chatbot.models import ChatRequest, ChatResponse, ErrorResponse, HealthResponse
from chatbot.settings import ChatbotSettings

router = APIRouter()

_ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    413: "The body is larger than the limit.",
    415: "The body is not application/json.",
    422: "A field is missing, of the wrong type, too long or not allowed.",
    429: "This client or the whole service is over its limit (see Retry-After).",
    502: "The model gave an unusable answer.",
    503: "The model is throttled or unavailable (see Retry-After).",
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


def _timing_headers(request: Request, upstream_seconds: float) -> dict[str, str]:
    if not _settings(request).expose_server_timing:
        return {}
    return {"Server-Timing": f"upstream;dur={upstream_seconds * 1000:.1f}"}


@router.post("/api/chat", response_model=ChatResponse, responses=ERROR_RESPONSES)
async def chat(body: ChatRequest, request: Request) -> JSONResponse:
    """Answer one question about the page, in one piece."""
    request_id = request_id_of(request.scope)
    client_ip = client_ip_of(request.scope, _settings(request).trusted_proxy_hops)
    answer = await _service(request).answer(
        body, client_ip, request_id, received_at_of(request.scope)
    )
    return JSONResponse(
        {"answer": answer.text, "request_id": request_id},
        headers=_timing_headers(request, answer.upstream_seconds),
    )


def sse_event(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _sse_body(
    service: ChatService, body: ChatRequest, request_id: str, stream: AnswerStream
) -> AsyncIterator[bytes]:
    parts = [stream.first_text]
    try:
        if stream.first_text:
            yield sse_event("delta", {"text": stream.first_text})
        async for text in stream.rest():
            parts.append(text)
            yield sse_event("delta", {"text": text})
        yield sse_event("done", {"request_id": request_id, "stop_reason": stream.usage.stop_reason})
    except ChatError as error:
        yield sse_event("error", error_body(error, request_id))
    finally:
        stream.close()
        service.finish_stream(body, request_id, stream, "".join(parts))


@router.post(
    "/api/chat/stream",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": SSE_DESCRIPTION},
        **ERROR_RESPONSES,
    },
    response_class=StreamingResponse,
)
async def chat_stream(body: ChatRequest, request: Request) -> StreamingResponse:
    """Answer one question about the page as server-sent events, for a fast first token."""
    request_id = request_id_of(request.scope)
    client_ip = client_ip_of(request.scope, _settings(request).trusted_proxy_hops)
    service = _service(request)
    stream = await service.open_stream(body, client_ip, received_at_of(request.scope))
    headers = {"X-Accel-Buffering": "no"}  # Cache-Control: no-store comes from the middleware
    headers.update(_timing_headers(request, stream.upstream_seconds))
    return StreamingResponse(
        _sse_body(service, body, request_id, stream),
        media_type="text/event-stream",
        headers=headers,
    )


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """Liveness: the process answers HTTP."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: configuration and dependencies of our own are in place (the model is not)."""
    checks = {
        "settings": "ok",
        "bedrock_client": "ok" if getattr(request.app.state, "chat", None) else "missing",
        "credentials": "ok" if request.app.state.credentials_found else "missing",
        "rate_limit_storage": "ok"
        if await request.app.state.limiter.storage_reachable()
        else "unreachable",
    }
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        HealthResponse(status="ready" if ready else "not_ready", checks=checks).model_dump(),
        status_code=200 if ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition; keep it off the public load balancer."""
    payload = generate_latest(request.app.state.metrics.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
