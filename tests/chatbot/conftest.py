"""Fixtures that run the fake Bedrock and the real chat service over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from chatbot.app import create_app
from chatbot.fake_bedrock import FakeBedrock, FakeBedrockConfig
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
    "global_requests_per_minute": 1_000_000,
    "global_tokens_per_minute": 100_000_000,
}
STARTUP_TIMEOUT_SECONDS = 15


@dataclass
class RunningService:
    """A live service: its URL, the app object (for its state) and the server to stop."""

    base_url: str
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_service(settings: ChatbotSettings) -> RunningService:
    """Run uvicorn in a thread on an already bound 127.0.0.1 socket and wait until it serves."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the chat service did not start")
        time.sleep(0.02)
    return RunningService(f"http://127.0.0.1:{port}", app, server, thread)


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
        service = start_service(ChatbotSettings(**{**ROOMY_LIMITS, **overrides}))
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
        running = start_service(ChatbotSettings(**ROOMY_LIMITS, circuit_failure_threshold=1000))
    yield running
    running.stop()


@pytest.fixture
def service(shared_service: RunningService, fake: FakeBedrock) -> RunningService:
    return shared_service


@pytest.fixture
def client(service: RunningService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base_url, timeout=10) as http:
        yield http


class Api:
    """Helpers shared by the service tests (a fixture, since tests cannot import conftest)."""

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
