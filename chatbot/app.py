"""The FastAPI application factory: settings, clients, middleware, routes and the widget."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import boto3
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatbot.answer_cache import make_answer_cache
from chatbot.auth import router as session_router
from chatbot.bedrock import BedrockChatClient, make_boto3_client
from chatbot.chat import ChatService
from chatbot.circuit_breaker import CircuitBreaker, CircuitState
from chatbot.cors import JsonErrorCORSMiddleware
from chatbot.daily_budget import DailyTokenBudget
from chatbot.errors import (
    ChatError,
    InvalidJson,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    error_body,
)
from chatbot.middleware import JsonBodyGuardMiddleware, RequestContextMiddleware, request_id_of
from chatbot.observability import ChatMetrics, log_event
from chatbot.rate_limits import ChatRateLimiter, make_storage
from chatbot.routes import metrics_router, router
from chatbot.server import start_metrics_server
from chatbot.session_tokens import SessionTokens, ephemeral_signing_key
from chatbot.settings import ChatbotSettings, load_settings
from chatbot.widget_assets import VERSIONED_PREFIX, WIDGET_DIR, WIDGET_PREFIX

logger = logging.getLogger("chatbot.app")


def error_response(error: ChatError, request: Request) -> JSONResponse:
    headers = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="chat"'
    return JSONResponse(
        error_body(error, request_id_of(request.scope)), status_code=error.status, headers=headers
    )


def describe_validation_errors(error: RequestValidationError) -> ChatError:
    """400 for unparsable JSON; otherwise 422 naming the first bad field (never its value)."""
    problems = error.errors()
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return InvalidJson()
    first = problems[0] if problems else {}
    location = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return InvalidRequest(f"{location}: {message}")


async def _on_chat_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ChatError)
    return error_response(error, request)


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return error_response(describe_validation_errors(error), request)


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    mapped: ChatError
    if error.status_code == 404:
        mapped = NotFound()
    elif error.status_code == 405:
        mapped = MethodNotAllowed()
    elif error.status_code == 400:
        mapped = InvalidJson()
    else:
        mapped = ChatError()
        mapped.status, mapped.code = error.status_code, "http_error"
        mapped.message = "The request could not be handled."
    response = error_response(mapped, request)
    if error.status_code == 405 and error.headers and "Allow" in error.headers:
        response.headers["Allow"] = error.headers["Allow"]
    return response


def _session_tokens(settings: ChatbotSettings) -> SessionTokens:
    """From the configured keys; without one (local runs only), a key for this process alone."""
    previous = settings.token_signing_key_previous
    if settings.token_signing_key is None:
        log_event(logger, logging.WARNING, "token_signing_key_ephemeral")
        current = ephemeral_signing_key()
    else:
        current = settings.token_signing_key.get_secret_value()
    return SessionTokens(
        current,
        previous.get_secret_value() if previous else None,
        settings.token_ttl_seconds,
    )


def _lifespan(
    settings: ChatbotSettings, metrics: ChatMetrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        session = boto3.session.Session()
        app.state.credentials_found = session.get_credentials() is not None
        breaker = CircuitBreaker(
            settings.circuit_failure_threshold, settings.circuit_cooldown_seconds
        )
        # Read at scrape time, so the gauge also shows the half-open state a cool-down reaches.
        metrics.circuit_open.set_function(lambda: float(breaker.state is not CircuitState.CLOSED))
        bedrock = BedrockChatClient(
            settings, metrics, breaker, make_boto3_client(settings, session)
        )
        storage = make_storage(settings)
        limiter = ChatRateLimiter(settings, storage)
        budget = DailyTokenBudget(
            storage, settings.daily_token_budget, settings.budget_warning_fraction, metrics
        )
        cache = make_answer_cache(settings, metrics)
        app.state.limiter = limiter
        app.state.answer_cache = cache
        app.state.tokens = _session_tokens(settings)
        app.state.chat = ChatService(settings, bedrock, limiter, budget, cache, metrics)
        app.state.metrics_server = (
            start_metrics_server(settings, metrics) if settings.production else None
        )
        log_event(
            logger,
            logging.INFO,
            "started",
            model_id=settings.model_id,
            region=settings.aws_region,
            endpoint_overridden=bool(os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")),
            rate_limit_storage=settings.rate_limit_storage_uri.split("://", 1)[0],
            answer_cache="off" if cache is None else ("redis" if settings.redis_url else "memory"),
            fallback_model_id=settings.fallback_model_id,
            production=settings.production,
            tokens_required=settings.tokens_required,
            credentials_found=app.state.credentials_found,
        )
        try:
            yield
        finally:
            bedrock.close()
            if cache is not None:
                await cache.backend.close()
            if app.state.metrics_server is not None:
                app.state.metrics_server.stop()

    return lifespan


def create_app(settings: ChatbotSettings | None = None) -> FastAPI:
    """Build the service; with no settings they are read from the CHATBOT_* environment."""
    settings = settings or load_settings()
    metrics = ChatMetrics()
    app = FastAPI(
        title="ccseg chat assistant",
        version="2.0.0",
        summary="Answers visitors' questions about the page they are reading, via Amazon Bedrock.",
        docs_url=None,
        redoc_url=None,
        # The schema maps the attack surface for anyone; production does not publish it.
        openapi_url=None if settings.production else "/openapi.json",
        lifespan=_lifespan(settings, metrics),
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.include_router(session_router)
    app.include_router(router)
    if not settings.production:
        app.include_router(metrics_router)
    # The versioned path first: its bytes never change, so it may be cached for a year.
    app.mount(VERSIONED_PREFIX, StaticFiles(directory=WIDGET_DIR), name="widget-versioned")
    app.mount(WIDGET_PREFIX, StaticFiles(directory=WIDGET_DIR), name="widget")
    app.add_exception_handler(ChatError, _on_chat_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    # The last added is the outermost: request context wraps CORS, which wraps the body guard,
    # so even 413/415 answers carry CORS headers the widget can read.
    app.add_middleware(
        JsonBodyGuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_read_timeout_seconds=settings.body_read_timeout_seconds,
        metrics=metrics,
    )
    app.add_middleware(
        JsonErrorCORSMiddleware,
        allow_origins=settings.cors_allow_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["Retry-After", "X-Request-ID"],
        max_age=600,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
