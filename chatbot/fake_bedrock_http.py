"""The fake Bedrock's HTTP layer: keep-alive replies (JSON, errors, chunked event streams)."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from chatbot.eventstream import encode_message
from chatbot.fake_bedrock_faults import ERROR_TYPE_SUFFIX

if TYPE_CHECKING:
    from chatbot.fake_bedrock_runtime import BedrockRuntime

logger = logging.getLogger(__name__)

MALFORMED_JSON_BODY = b'upstream reset before the body ended: {"output": {"mess'


class StoppingError(Exception):
    """The fake is stopping: the connection is dropped without an answer."""


class FakeBedrockHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: every reply carries Content-Length or is chunked."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeBedrock/1.0"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK can add ~40 ms to every reply.
    disable_nagle_algorithm = True
    server: FakeBedrockHTTPServer
    received_at = 0.0  # monotonic time the request line was read

    def parse_request(self) -> bool:
        # Called as soon as the request line is in: the model's latency runs from here, so the
        # fake's own parsing and bookkeeping are inside it, as Bedrock's are inside its own.
        self.received_at = time.monotonic()
        return super().parse_request()

    def do_POST(self) -> None:
        self.server.runtime.handle(self)

    def version_string(self) -> str:
        return self.server_version

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

    def handle(self) -> None:
        try:
            super().handle()
        except (StoppingError, ConnectionError, TimeoutError):
            # A client that gave up (read timeout) or a fake that is stopping: nothing to answer.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake-bedrock %s " + format, self.address_string(), *args)

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _write(
        self, status: int, request_id: str, content_type: str, payload: bytes, **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def write_json(
        self, request_id: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode("utf-8")
        self._write(200, request_id, "application/json", payload, **(headers or {}))

    def write_error(self, request_id: str, code: str, status: int, message: str) -> None:
        payload = json.dumps({"message": message}).encode("utf-8")
        error_type = {"x-amzn-ErrorType": code + ERROR_TYPE_SUFFIX}
        self._write(status, request_id, "application/json", payload, **error_type)

    def write_malformed(self, request_id: str, operation: str) -> None:
        if operation == "ConverseStream":
            frame = bytearray(encode_message({":message-type": "event"}, b'{"role":"assistant"}'))
            frame[-1] ^= 0xFF  # a broken message CRC: botocore's decoder must reject the frame
            self._write(200, request_id, "application/vnd.amazon.eventstream", bytes(frame))
        else:
            self._write(200, request_id, "application/json", MALFORMED_JSON_BODY)

    def start_stream(self, request_id: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk; the empty chunk ends the response."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


class FakeBedrockHTTPServer(ThreadingHTTPServer):
    """A thread per connection, a deep listen backlog, and a way to drop idle keep-alives."""

    daemon_threads = True
    request_queue_size = 2048  # listen backlog; http.server's default of 5 refuses bursts
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], runtime: BedrockRuntime) -> None:
        self.runtime = runtime
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, FakeBedrockHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS round trip a loopback fake
        # does not need.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive sockets so they exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
