"""A transport that sends what a response writes within one event-loop turn as one write.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, and the body as a second write; with Nagle off each becomes its own
segment, so the client is woken twice per answer (and, between the two, our access log line is
formatted while the client already waits on the headers). Starlette sends both messages in the
same turn of the loop, so holding writes until the end of the turn puts a whole JSON answer in
one segment, at the cost of one `call_soon` per response. Closing flushes first, so nothing that
was written is lost.
"""

from __future__ import annotations

import asyncio
from typing import Any


class WriteCoalescingTransport:
    """Wraps a transport: writes are joined and sent at the end of the current loop turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():  # the peer left: there is no one to send it to
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
