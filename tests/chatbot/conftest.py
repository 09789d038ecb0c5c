"""Fixtures that run the fake Bedrock and the real chat service over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from chatbot.app import create_app
from chatbot.fake_bedrock import FakeBedrock, FakeBedrockConfig
from chatbot.server import uvicorn_config
from chatbot.settings import ChatbotSettings

# Dummy values for the default credential chain: shaped like nothing AWS issues.
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test-access-key-id",
    "AWS_SECRET_ACCESS_KEY": "test-secret-access-key",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
# Limits far above what a test sends, so only the tests about limits meet them.
ROOMY_LIMITS: dict[str, Any] = {
    "session_rate_limit": "10000/minute",
    "ip_rate_limit": "10000/minute",
    "session_token_rate_limit": "100000000/minute",
    "ip_token_rate_limit": "100000000/minute",
    "session_grant_rate_limit": "10000/minute",
    "global_requests_per_minute": 1_000_000,
    "global_tokens_per_minute": 100_000_000,
    "daily_token_budget": 10_000_000_000,
}
# The page origin test requests claim; every test service allows it (and its own origin).
TEST_ORIGIN = "https://www.example.com"
# Made at run time, never written down: the repository holds no key, not even a test one.
SIGNING_KEY = secrets.token_urlsafe(32)
# Tokens required, as in production. The cache is off except in the tests about it: other tests
# count model calls, and the shared service would carry answers from one test to the next.
TEST_DEFAULTS: dict[str, Any] = {
    **ROOMY_LIMITS,
    "require_token": True,
    "token_signing_key": SIGNING_KEY,
    "cache_enabled": False,
}
STARTUP_TIMEOUT_SECONDS = 15


@dataclass
class RunningService:
    """A live service: its URL, the app object (for its state) and the server to stop."""

    base_url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    _http: httpx.Client | None = None

    @property
    def settings(self) -> ChatbotSettings:
        return self.app.state.settings

    @property
    def http(self) -> httpx.Client:
        """One kept-alive client per service: a new client per request costs ~0.1 s here."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.base_url, timeout=10)
        return self._http

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_service(**overrides: Any) -> RunningService:
    """Run uvicorn in a thread on an already bound 127.0.0.1 socket and wait until it serves.

    The server is built as `ccseg chatbot serve` builds it (slow-client protocol included); the
    settings are the test defaults with `overrides`, and the service's own origin is allowed.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    values = {**TEST_DEFAULTS, **overrides}
    values["cors_allow_origins"] = [
        *values.get("cors_allow_origins", [TEST_ORIGIN]),
        base_url,
    ]
    settings = ChatbotSettings(**values)
    app = create_app(settings)
    config = uvicorn_config(app, settings, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the chat service did not start")
        time.sleep(0.02)
    return RunningService(base_url, app, server, thread)


@pytest.fixture(scope="session")
def fake_bedrock_server() -> Iterator[FakeBedrock]:
    with FakeBedrock(FakeBedrockConfig()) as fake:
        yield fake


def _point_boto3_at(fake: FakeBedrock, patch: pytest.MonkeyPatch) -> None:
    for name, value in DUMMY_AWS_ENV.items():
        patch.setenv(name, value)
    patch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)


@pytest.fixture
def aws_env(fake_bedrock_server: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and the standard endpoint variable that points boto3 at the fake.

    Function-scoped so that nothing leaks into other test modules: a service reads them once,
    when it creates its boto3 client at start-up.
    """
    _point_boto3_at(fake_bedrock_server, monkeypatch)


@pytest.fixture
def fake(fake_bedrock_server: FakeBedrock, aws_env: None) -> FakeBedrock:
    """The shared fake, back to instant answers with no quota, no faults and empty stats."""
    fake_bedrock_server.set_config(FakeBedrockConfig())
    fake_bedrock_server.set_faults()
    fake_bedrock_server.stats.reset()
    return fake_bedrock_server


@pytest.fixture
def start(fake: FakeBedrock) -> Iterator[Callable[..., RunningService]]:
    """Start services with settings overrides (roomy limits by default); all stop afterwards."""
    running: list[RunningService] = []

    def start_with(**overrides: Any) -> RunningService:
        service = start_service(**overrides)
        running.append(service)
        return service

    yield start_with
    for service in running:
        service.stop()


@pytest.fixture(scope="session")
def shared_service(fake_bedrock_server: FakeBedrock) -> Iterator[RunningService]:
    """One service for the tests that need no special settings (its breaker never opens)."""
    with pytest.MonkeyPatch.context() as patch:
        _point_boto3_at(fake_bedrock_server, patch)
        running = start_service(circuit_failure_threshold=1000)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def open_service(fake_bedrock_server: FakeBedrock) -> Iterator[RunningService]:
    """A service that also serves callers without a token (as outside production), for fuzzing."""
    with pytest.MonkeyPatch.context() as patch:
        _point_boto3_at(fake_bedrock_server, patch)
        running = start_service(circuit_failure_threshold=1000, require_token=False)
    yield running
    running.stop()


@pytest.fixture
def service(shared_service: RunningService, fake: FakeBedrock) -> RunningService:
    return shared_service


@pytest.fixture
def client(service: RunningService) -> Iterator[httpx.Client]:
    """A client of the shared service with a token for the default body's session."""
    headers = Api.auth_headers(service, Api.chat_body()["session_id"])
    with httpx.Client(base_url=service.base_url, timeout=10, headers=headers) as http:
        yield http


class Api:
    """Helpers shared by the service tests (a fixture, since tests cannot import conftest)."""

    origin = TEST_ORIGIN
    signing_key = SIGNING_KEY

    @staticmethod
    def grant(
        service: RunningService, session_id: str | None = None, origin: str = TEST_ORIGIN
    ) -> httpx.Response:
        """POST /api/session as the widget does."""
        body = {} if session_id is None else {"session_id": session_id}
        return service.http.post("/api/session", json=body, headers={"Origin": origin})

    @staticmethod
    def auth_headers(
        service: RunningService, session_id: str, origin: str = TEST_ORIGIN
    ) -> dict[str, str]:
        """Origin and bearer token for this session (one token per session, reused)."""
        token = service.tokens.get((session_id, origin))
        if token is None:
            response = Api.grant(service, session_id, origin)
            assert response.status_code == 200, response.text
            token = service.tokens[(session_id, origin)] = response.json()["token"]
        return {"Origin": origin, "Authorization": f"Bearer {token}"}

    @staticmethod
    def post_chat(
        service: RunningService,
        body: dict[str, Any],
        path: str = "/api/chat",
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> httpx.Response:
        """A chat request with a token for the body's session, as the widget sends it."""
        session = body.get("session_id")
        session = session if isinstance(session, str) and len(session) >= 8 else "session-0001"
        sent = {**Api.auth_headers(service, session), **(headers or {})}
        return service.http.post(path, json=body, headers=sent, timeout=timeout)

    @staticmethod
    def chat_body(
        message: str = "What does the premium card cost?",
        *,
        session_id: str = "session-0001",
        url: str = "https://www.example.com/cards/fees",
        title: str = "Card fees explained",
        text: str = "The premium card costs 90 EUR a year.",
    ) -> dict[str, Any]:
        return {
            "message": message,
            "page": {"url": url, "title": title, "text": text},
            "session_id": session_id,
        }

    @staticmethod
    def fake_answer(message: str, title: str, url: str) -> str:
        """What the fake model says back; see chatbot.fake_bedrock's marker convention."""
        question = " ".join(message.split())
        return f"[fake-bedrock] You asked: '{question}' about page '{title}' ({url})."

    @staticmethod
    def sse_events(payload: str) -> list[tuple[str, dict[str, Any]]]:
        """Parse a text/event-stream body into (event, data) pairs, in order."""
        events = []
        for block in payload.split("\n\n"):
            if not block.strip():
                continue
            fields = dict(line.split(": ", 1) for line in block.split("\n"))
            events.append((fields["event"], json.loads(fields["data"])))
        return events

    @staticmethod
    def assert_error_shape(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
        """Every error: the status, the JSON shape, the id of the response, no internals."""
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert set(body) == {"error", "message", "request_id"}
        assert body["error"] == code
        assert body["request_id"] == response.headers["x-request-id"]
        assert "Traceback" not in response.text and "Exception" not in response.text
        return body


@pytest.fixture
def api() -> type[Api]:
    return Api


REDIS_SERVER = Path("/usr/bin/redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis on a free loopback port, without persistence (Debian `redis-server`)."""
    if not REDIS_SERVER.exists():
        message = "the shared-cache tests need redis-server (run `make redis`)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI must run the Redis tests: {message}")
        pytest.skip(message)
    port = _free_port()
    process = subprocess.Popen(
        [
            *(str(REDIS_SERVER), "--bind", "127.0.0.1", "--port", str(port)),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
