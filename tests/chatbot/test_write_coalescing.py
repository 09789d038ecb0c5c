"""The coalescing transport: one socket write per loop turn, nothing lost on close."""

from __future__ import annotations

import asyncio
import socket

from chatbot.write_coalescing import WriteCoalescingTransport


class RecordingProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set_result(None)


async def _connected() -> tuple[asyncio.Transport, RecordingProtocol, socket.socket]:
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(RecordingProtocol, sock=ours)
    theirs.setblocking(False)
    return transport, protocol, theirs


def _received(sock: socket.socket) -> list[bytes]:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return chunks
        if not chunk:
            return chunks
        chunks.append(chunk)


def test_writes_made_in_one_loop_turn_reach_the_socket_as_one_write():
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        transport, _, peer = await _connected()
        coalescing = WriteCoalescingTransport(transport, asyncio.get_running_loop())
        coalescing.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        coalescing.write(b"{}")
        before_turn_ends = _received(peer)
        await asyncio.sleep(0.05)
        after = _received(peer)
        coalescing.close()
        peer.close()
        return before_turn_ends, after

    before_turn_ends, after = asyncio.run(scenario())
    assert before_turn_ends == []
    assert after == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


def test_closing_sends_what_was_written_before_the_connection_closes():
    async def scenario() -> bytes:
        transport, protocol, peer = await _connected()
        coalescing = WriteCoalescingTransport(transport, asyncio.get_running_loop())
        coalescing.write(b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n")
        coalescing.close()
        await protocol.closed
        peer.setblocking(True)
        received = b""
        while chunk := peer.recv(65536):
            received += chunk
        peer.close()
        return received

    assert asyncio.run(scenario()) == b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n"


def test_other_transport_calls_reach_the_real_transport():
    async def scenario() -> tuple[bool, bool]:
        transport, _, peer = await _connected()
        coalescing = WriteCoalescingTransport(transport, asyncio.get_running_loop())
        open_before = coalescing.is_closing()
        coalescing.close()
        closing_after = transport.is_closing()
        peer.close()
        return open_before, closing_after

    assert asyncio.run(scenario()) == (False, True)
