"""The load-test flow against a tiny real HTTP chat app on 127.0.0.1, over a real Prefect API."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from core.errors import ParameterError
from flows.chatbot_loadtest import ARTIFACT_KEY, chatbot_loadtest
from tasks.loadtest.driver import arrival_offsets, run_open_loop


class ServedApp:
    """Uvicorn in a background thread on a loopback port chosen by the kernel."""

    def __init__(self, app: FastAPI, lifespan: str = "off") -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> ServedApp:
        self._thread.start()
        for _ in range(200):  # at most 10 s
            if self._server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("test chat app did not start")

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def every_third_throttled_app() -> FastAPI:
    """200 with an answer, except every third request: 429 with Retry-After, per the contract."""
    app = FastAPI()
    arrivals = itertools.count(1)

    @app.post("/api/chat")
    async def chat(body: dict) -> JSONResponse:
        number = next(arrivals)
        if number % 3 == 0:
            error = {"error": "rate_limited", "message": "slow down", "request_id": f"r{number}"}
            return JSONResponse(error, status_code=429, headers={"Retry-After": "1"})
        return JSONResponse(
            {"answer": f"about {body['page']['title']}", "request_id": f"r{number}"}
        )

    return app


def barrier_app(parties: int) -> FastAPI:
    """Answers 200 only once `parties` requests are in flight together, else 504 after 3 s."""
    app = FastAPI()
    state = {"arrived": 0}
    everyone_here = asyncio.Event()

    @app.post("/api/chat")
    async def chat() -> JSONResponse:
        state["arrived"] += 1
        if state["arrived"] >= parties:
            everyone_here.set()
        try:
            await asyncio.wait_for(everyone_here.wait(), timeout=3)
        except TimeoutError:
            return JSONResponse({"error": "timeout"}, status_code=504)
        return JSONResponse({"answer": "together", "request_id": "r"})

    return app


@pytest.fixture
def throttling_app() -> Iterator[ServedApp]:
    with ServedApp(every_third_throttled_app()) as served:
        yield served


def test_driver_is_open_loop_requests_leave_before_earlier_ones_answer() -> None:
    # The app holds every answer until all five requests are in flight at once: a closed loop
    # (next request after the previous answer) would get 504s, an open loop gets 200s.
    with ServedApp(barrier_app(parties=5)) as served:
        outcomes = asyncio.run(
            run_open_loop(served.url, [0.0, 0.02, 0.04, 0.06, 0.08], 2, timeout_seconds=5)
        )

    assert [outcome.status for outcome in outcomes] == [200] * 5


def test_flow_refuses_a_non_loopback_url_before_sending_anything() -> None:
    with pytest.raises(ParameterError, match="only loopback targets"):
        chatbot_loadtest.fn(base_url="http://192.0.2.10:8000", duration_seconds=1)


@pytest.mark.usefixtures("prefect_api")
def test_short_real_run_accounts_for_every_request_and_writes_the_artifact(
    throttling_app: ServedApp,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    state = chatbot_loadtest(
        base_url=throttling_app.url,
        requests_per_minute=600,
        duration_seconds=2,
        session_count=3,
        timeout_seconds=2,
        seed=1,
        return_state=True,
    )
    summary = state.result()

    planned = len(arrival_offsets(600, 2, seed=1))
    assert summary.planned == summary.sent == planned > 5
    assert summary.sent == sum(summary.status_counts.values()) + summary.transport_errors
    assert summary.transport_errors == 0
    assert summary.status_counts["429"] == planned // 3
    assert summary.status_counts["200"] == planned - planned // 3
    assert summary.retry_after_on_429 == summary.status_counts["429"]
    assert summary.retry_after_always_present
    assert summary.latency_p50_ms is not None
    assert summary.latency_p50_ms <= summary.latency_p95_ms <= summary.latency_p99_ms

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    assert [artifact.key for artifact in artifacts] == [ARTIFACT_KEY]
    assert "| status 429 |" in artifacts[0].data


@pytest.mark.usefixtures("prefect_api")
def test_flow_against_the_real_service_sees_its_session_limit_as_429_with_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatbot.app import create_app
    from chatbot.fake_bedrock import FakeBedrock, FakeBedrockConfig
    from chatbot.settings import ChatbotSettings

    sessions, allowed_per_session = 3, 2
    with FakeBedrock(FakeBedrockConfig()) as fake:
        # The default credential chain with dummy values; the standard variable points at the fake.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key-id")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-access-key")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)
        settings = ChatbotSettings(
            session_rate_limit=f"{allowed_per_session}/minute", ip_rate_limit="1000/minute"
        )
        with ServedApp(create_app(settings), lifespan="on") as served:
            summary = chatbot_loadtest(
                base_url=served.url,
                requests_per_minute=600,
                duration_seconds=2,
                session_count=sessions,
                timeout_seconds=5,
                seed=3,
            )
        model_calls = fake.stats.total_calls

    answered = sessions * allowed_per_session
    assert summary.sent == summary.planned > answered
    assert summary.transport_errors == 0
    refused = summary.sent - answered
    seen = {status: count for status, count in summary.status_counts.items() if count}
    assert seen == {"200": answered, "429": refused}
    assert summary.retry_after_on_429 == refused
    assert model_calls == answered  # a refused question never reaches the model


def test_default_target_is_where_the_chat_service_listens_by_default() -> None:
    import inspect

    from chatbot.settings import ChatbotSettings

    defaults = ChatbotSettings.model_fields
    expected = f"http://{defaults['host'].default}:{defaults['port'].default}"
    assert inspect.signature(chatbot_loadtest.fn).parameters["base_url"].default == expected
