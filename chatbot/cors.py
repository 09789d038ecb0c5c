"""Starlette's CORS middleware, with refused preflights answered in the API's JSON error shape.

Starlette answers a refused preflight with a text/plain 400; every other error of this service is
`{"error", "message", "request_id"}`, and clients (and the docs) rely on that one shape.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from chatbot.errors import ChatError, Forbidden, OriginNotAllowed
from chatbot.middleware import request_id_of, send_error


class JsonErrorCORSMiddleware(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and "access-control-request-method" in headers:
                response = self.preflight_response(request_headers=headers)
                if response.status_code < 400:
                    await response(scope, receive, send)
                    return
                error: ChatError = (
                    Forbidden("This cross-origin method or header is not allowed.")
                    if self.is_allowed_origin(origin=origin)
                    else OriginNotAllowed()
                )
                await send_error(send, error, request_id_of(scope))
                return
        await super().__call__(scope, receive, send)
