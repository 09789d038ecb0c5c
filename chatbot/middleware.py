"""ASGI middleware: request ids, security headers, access logs and metrics, and the body guard.

Written as plain ASGI rather than BaseHTTPMiddleware: it adds no task per request and does not
buffer streamed (SSE) responses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatbot.errors import (
    ChatError,
    InvalidJson,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    error_body,
)
from chatbot.observability import ChatMetrics, log_event
from chatbot.widget_assets import WIDGET_PREFIX, cache_control_for

logger = logging.getLogger("chatbot.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
API_PREFIX = "/api/"
# The session endpoint makes a session id itself when the body is empty.
EMPTY_BODY_ALLOWED = frozenset({"/api/session"})

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
WIDGET_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_COMMON_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
)


def request_id_of(scope: Scope) -> str:
    return scope.get("state", {}).get("request_id", "unknown")


def received_at_of(scope: Scope) -> float:
    return scope.get("state", {}).get("received_at", time.monotonic())


def body_read_at_of(scope: Scope) -> float:
    """When the body was in hand: where the time a chat request spends with us starts."""
    state = scope.get("state", {})
    return state.get("body_read_at", state.get("received_at", time.monotonic()))


def client_ip_of(scope: Scope, trusted_proxy_hops: int) -> str:
    """The peer address, or the X-Forwarded-For entry our own trusted proxies appended.

    The header is written by whoever sends the request; only the entries added by the proxies we
    run are true, so with N proxies in front the client is the N-th entry from the right.
    """
    peer = (scope.get("client") or ("unknown", 0))[0]
    if trusted_proxy_hops == 0:
        return peer
    forwarded = Headers(scope=scope).get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < trusted_proxy_hops:
        return peer
    candidate = hops[-trusted_proxy_hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer


async def send_error(send: Send, error: ChatError, request_id: str, close: bool = False) -> None:
    body = json.dumps(error_body(error, request_id)).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if error.retry_after is not None:
        headers.append((b"retry-after", str(error.retry_after).encode("ascii")))
    if close:  # uvicorn closes the connection after a response that says so
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _security_headers(path: str) -> Iterable[tuple[str, str]]:
    yield from _COMMON_HEADERS
    if path.startswith(WIDGET_PREFIX):
        yield "Content-Security-Policy", WIDGET_CSP
        # The widget script is embedded by other origins' pages with <script src>, and with
        # crossorigin="anonymous" when the page pins it with an SRI hash, which needs CORS.
        yield "Cross-Origin-Resource-Policy", "cross-origin"
        yield "Cache-Control", cache_control_for(path)
    else:
        yield "Content-Security-Policy", API_CSP
        yield "Cache-Control", "no-store"


class RequestContextMiddleware:
    """Outermost layer: every response gets an id, security headers, a log line and metrics.

    It also turns any exception that escaped the app into the generic 500 JSON error, so even
    then no stack trace leaves the process and the response still carries its request id.
    """

    def __init__(self, app: ASGIApp, metrics: ChatMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["received_at"] = time.monotonic()
        started = time.perf_counter()
        path = scope.get("path", "")
        response: dict[str, Any] = {"status": 500, "started": False, "observed": False}

        def observe_once() -> None:
            # Recorded before the last byte leaves, so a client that has its answer also sees
            # it in the metrics and logs; `finally` covers responses that never finished.
            if not response["observed"]:
                response["observed"] = True
                seconds = time.perf_counter() - started
                self._observe(scope, request_id, response["status"], seconds)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in _security_headers(path):
                    if name not in headers:
                        headers[name] = value
                if path.startswith(WIDGET_PREFIX):
                    # Public files, the same for every site: one CORS answer, whoever asks, so a
                    # CDN can keep one copy (the CORS layer would echo each allowed origin).
                    headers["Access-Control-Allow-Origin"] = "*"
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                observe_once()
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled_error", extra={"fields": {"request_id": request_id}})
            if not response["started"]:
                await send_error(send_with_headers, ChatError(), request_id)
        finally:
            observe_once()

    def _observe(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope.get("method", "")
        self.metrics.requests.labels(route, method, str(status)).inc()
        self.metrics.request_seconds.labels(route).observe(seconds)
        log_event(
            logger,
            logging.INFO,
            "request",
            request_id=request_id,
            method=method,
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 2),
        )


class JsonBodyGuardMiddleware:
    """For POST /api/*: 415 unless JSON, 413 past the size limit, 400 if empty: before parsing.

    The body is read here, counting bytes as they arrive, so an oversized or endless body is cut
    off at the limit whatever Content-Length claimed, then replayed to the app. A body that takes
    longer than `body_read_timeout_seconds` gets 408 and the connection is closed: reading the
    body is the client's time, and it must not be charged to the upstream deadline, which only
    starts once the body is in hand.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_read_timeout_seconds: float,
        metrics: ChatMetrics,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_read_timeout_seconds = body_read_timeout_seconds
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not scope.get("path", "").startswith(API_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        headers = Headers(scope=scope)
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            await send_error(send, UnsupportedMediaType(), request_id)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await send_error(send, PayloadTooLarge(), request_id)
            return
        started = time.monotonic()
        try:
            # A timeout scope, not wait_for: no extra task and loop turns for a body that is
            # usually already buffered.
            async with asyncio.timeout(self.body_read_timeout_seconds):
                body = await self._read_body(receive)
        except TimeoutError:
            self.metrics.slow_clients.labels("body").inc()
            await send_error(send, RequestTimeout(), request_id, close=True)
            return
        read_at = time.monotonic()
        scope.setdefault("state", {})["body_read_at"] = read_at
        self.metrics.phase_seconds.labels("body_read").observe(read_at - started)
        if body is None:
            await send_error(send, PayloadTooLarge(), request_id)
            return
        if not body.strip() and scope["path"] not in EMPTY_BODY_ALLOWED:
            await send_error(send, InvalidJson("The request body is empty."), request_id)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as Starlette expects

    return replay
