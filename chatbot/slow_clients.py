"""Close connections whose request headers or body arrive too slowly (slow-loris defence).

uvicorn has no header or body read timeout: its keep-alive timer only runs between requests and
is cancelled by the first byte of the next one, so a client that sends one byte a second holds a
connection (and its buffers) forever. An ASGI middleware cannot help with headers, because the
app is only called once they are complete. So the guard lives in the HTTP protocol, the layer
that sees bytes arrive: a timer starts when a connection opens (or when the first byte of a
request arrives on a kept-alive one) and must be beaten by the end of the headers; another starts
there and must be beaten by the end of the body. The body timer here is a backstop set after the
API's own 408 (`JsonBodyGuardMiddleware`), for routes that never read their body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from chatbot.write_coalescing import WriteCoalescingTransport

# How much later than the API's 408 the connection-level body timer closes a connection, so the
# API route answers with its JSON 408 first.
BODY_BACKSTOP_GRACE_SECONDS = 1.0


class SlowClientGuardProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read deadlines for the headers and the body."""

    header_timeout_seconds: float = 5.0
    body_timeout_seconds: float = 5.0 + BODY_BACKSTOP_GRACE_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None

    @staticmethod
    def on_slow_client(phase: str) -> None:
        """Told which phase was too slow; replaced by `guarded_protocol` to count it."""

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._too_slow, phase)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self, phase: str) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.on_slow_client(phase)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Set after uvicorn's own set-up, so its flow control pauses the real transport.
        self.transport = WriteCoalescingTransport(transport, self.loop)  # type: ignore[assignment]
        self._arm("headers", self.header_timeout_seconds)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_timer is None:  # a new request on a kept-alive connection
            self._arm("headers", self.header_timeout_seconds)

    def on_headers_complete(self) -> None:
        self._arm("body", self.body_timeout_seconds)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def guarded_protocol(
    header_timeout_seconds: float,
    body_timeout_seconds: float,
    on_slow_client: Callable[[str], None],
) -> type[SlowClientGuardProtocol]:
    """A protocol class with these limits, for `uvicorn.Config(http=...)`."""
    return type(
        "ConfiguredSlowClientGuardProtocol",
        (SlowClientGuardProtocol,),
        {
            "header_timeout_seconds": header_timeout_seconds,
            "body_timeout_seconds": body_timeout_seconds + BODY_BACKSTOP_GRACE_SECONDS,
            "on_slow_client": staticmethod(on_slow_client),
        },
    )
