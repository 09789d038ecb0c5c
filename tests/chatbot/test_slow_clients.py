"""Slow clients over real sockets: cut off in time, never charged to the model or its breaker."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx

# Generous: the assertions are about the outcome (closed, answered), not about speed.
GIVE_UP_SECONDS = 10.0


def connect(service) -> socket.socket:
    host, port = service.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=GIVE_UP_SECONDS)
    sock.settimeout(0.2)
    return sock


def trickle_until_closed(sock: socket.socket, data: bytes, every: float = 0.2) -> bytes:
    """Send one byte per `every` seconds until the server closes; return what it answered."""
    received = b""
    give_up = time.monotonic() + GIVE_UP_SECONDS
    position = 0
    while time.monotonic() < give_up:
        try:
            chunk = sock.recv(65536)
            if not chunk:
                return received  # closed by the server
            received += chunk
        except TimeoutError:
            pass
        except ConnectionError:
            return received
        if position < len(data):
            try:
                sock.sendall(data[position : position + 1])
            except (BrokenPipeError, ConnectionError):
                return received
            position += 1
        time.sleep(every)
    raise AssertionError(f"the server kept a slow connection open for {GIVE_UP_SECONDS} s")


def slow_clients(service, phase: str) -> float:
    registry = service.app.state.metrics.registry
    return registry.get_sample_value("chatbot_slow_client_disconnects_total", {"phase": phase}) or 0


def test_a_connection_that_sends_its_headers_slowly_is_closed(fake, start):
    service = start(header_read_timeout_seconds=0.5)
    with connect(service) as sock:
        answered = trickle_until_closed(sock, b"POST /api/chat HTTP/1.1\r\nHost: x\r\nX-Pad: " * 20)
    assert answered == b""  # no request was ever complete: nothing to answer
    assert slow_clients(service, "headers") == 1


def test_a_connection_that_never_sends_anything_is_closed(fake, start):
    service = start(header_read_timeout_seconds=0.5)
    with connect(service) as sock:
        assert trickle_until_closed(sock, b"") == b""


def test_a_kept_alive_connection_is_also_guarded_on_its_next_request(fake, start):
    service = start(header_read_timeout_seconds=0.5, keep_alive_timeout_seconds=30)
    with connect(service) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert trickle_until_closed(sock, b"GET /healthz HTTP/1.1\r\nX-Pad: " * 20) == b""


def test_a_slow_body_gets_408_and_the_connection_is_closed(fake, start, api):
    service = start(body_read_timeout_seconds=0.5)
    headers = api.auth_headers(service, "session-0001")
    head = (
        "POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {headers['Authorization']}\r\nOrigin: {headers['Origin']}\r\n"
        "Content-Length: 5000\r\n\r\n"
    ).encode()
    with connect(service) as sock:
        sock.sendall(head)
        answered = trickle_until_closed(sock, b"x" * 5000)
    status_line, _, rest = answered.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["error"] == "request_timeout"
    assert fake.stats.total_calls == 0


def test_a_slow_body_to_a_route_that_never_reads_it_is_closed_too(fake, start):
    service = start(body_read_timeout_seconds=0.5)
    with connect(service) as sock:
        sock.sendall(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        answered = trickle_until_closed(sock, b"x" * 5000)
    assert answered.startswith(b"HTTP/1.1 404")  # answered at once, then cut off
    assert slow_clients(service, "body") == 1


def slowly(body: bytes, seconds: float, pieces: int = 6) -> Iterator[bytes]:
    """The body in pieces spread over `seconds`, as a client on a bad link uploads it."""
    size = -(-len(body) // pieces)
    for index in range(pieces):
        time.sleep(seconds / pieces)
        yield body[index * size : (index + 1) * size]


def test_slow_uploads_leave_the_breaker_closed_and_other_visitors_answered(fake, start, api):
    # Finding 1 of the second review: five uploads slower than the deadline used to end in 504s
    # that opened the breaker for everyone. The deadline now starts once the body is in hand.
    service = start(
        deadline_seconds=0.6,
        min_attempt_seconds=0.1,
        circuit_failure_threshold=5,
        body_read_timeout_seconds=5.0,
    )
    sessions = [f"session-slow-{index}" for index in range(5)]
    headers = {session: api.auth_headers(service, session) for session in sessions}
    statuses: dict[str, int] = {}

    def upload(session: str) -> None:
        body = json.dumps(api.chat_body(session_id=session)).encode()
        response = httpx.post(
            f"{service.base_url}/api/chat",
            content=slowly(body, 1.2),
            headers={**headers[session], "Content-Type": "application/json"},
            timeout=GIVE_UP_SECONDS,
        )
        statuses[session] = response.status_code

    threads = [threading.Thread(target=upload, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GIVE_UP_SECONDS)

    assert statuses == dict.fromkeys(sessions, 200)
    visitor = api.post_chat(service, api.chat_body(session_id="session-visitor"))
    assert visitor.status_code == 200
    metrics = httpx.get(f"{service.base_url}/metrics").text
    assert "chatbot_circuit_open 0.0" in metrics
    assert 'outcome="deadline"' not in metrics
    registry = service.app.state.metrics.registry
    body_read = registry.get_sample_value(
        "chatbot_request_phase_seconds_sum", {"phase": "body_read"}
    )
    assert body_read is not None and body_read >= 5 * 1.0  # the uploads' time, told apart
