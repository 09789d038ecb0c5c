"""Services on demand: started on free loopback ports, configured in one place, always stopped."""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

import httpx
import psutil
import pytest

from core.errors import ParameterError
from tasks.loadtest.services import (
    ServiceStartError,
    chat_service_environment,
    chat_services,
    fake_bedrock_arguments,
    free_loopback_port,
)
from tasks.loadtest.settings import LoadTestSettings

QUESTION = {
    "message": "What does it cost?",
    "page": {"url": "https://www.example.com/a", "title": "Fees", "text": "90 EUR a year."},
}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def children() -> set[int]:
    """Processes whose parent is this test process (psutil reads /proc: the machine is shared)."""
    return {child.pid for child in psutil.Process().children()}


def ask(client: httpx.Client, session: str, address: str) -> int:
    """One question from a widget on the load test's origin: a session token first."""
    visitor = {"X-Forwarded-For": address, "Origin": LoadTestSettings().origin}
    granted = client.post("/api/session", json={"session_id": session}, headers=visitor)
    assert granted.status_code == 200, granted.text
    token = granted.json()["token"]
    body = QUESTION | {"session_id": session}
    headers = visitor | {"Authorization": f"Bearer {token}"}
    return client.post("/api/chat", json=body, headers=headers).status_code


def test_the_chat_service_gets_the_fake_the_proxy_hop_the_origin_and_extra_settings() -> None:
    settings = LoadTestSettings(
        origin="https://shop.example.org",
        service_env={"CHATBOT_IP_RATE_LIMIT": "5/minute", "CHATBOT_LOG_LEVEL": "INFO"},
    )

    env = chat_service_environment(settings, "http://127.0.0.1:9", 4321)

    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == "http://127.0.0.1:9"
    assert (env["CHATBOT_HOST"], env["CHATBOT_PORT"]) == ("127.0.0.1", "4321")
    assert env["CHATBOT_TRUSTED_PROXY_HOPS"] == "1"
    assert env["CHATBOT_CORS_ALLOW_ORIGINS"] == "https://shop.example.org"
    assert env["CHATBOT_IP_RATE_LIMIT"] == "5/minute"
    assert env["CHATBOT_LOG_LEVEL"] == "INFO"  # the operator's extra settings win


def test_the_chat_service_requires_widget_tokens_signed_with_a_key_made_for_the_run() -> None:
    first = chat_service_environment(LoadTestSettings(), "http://127.0.0.1:9", 4321)
    second = chat_service_environment(LoadTestSettings(), "http://127.0.0.1:9", 4321)

    assert first["CHATBOT_REQUIRE_TOKEN"] == "true"
    assert len(first["CHATBOT_TOKEN_SIGNING_KEY"]) >= 32
    assert first["CHATBOT_TOKEN_SIGNING_KEY"] != second["CHATBOT_TOKEN_SIGNING_KEY"]


def test_the_fake_model_gets_the_latency_quotas_and_faults_of_the_settings() -> None:
    settings = LoadTestSettings(
        model_latency_ms=300,
        model_latency_p99_ms=900,
        model_requests_per_minute=50,
        model_faults={"throttling": 0.1, "internal": 0.02},
        seed=7,
    )

    assert fake_bedrock_arguments(settings) == [
        "--port", "0", "--latency-ms", "300", "--seed", "7", "--latency-p99-ms", "900",
        "--requests-per-minute", "50", "--fault", "throttling=0.1", "--fault", "internal=0.02",
    ]  # fmt: skip


def test_started_services_answer_see_forwarded_clients_and_stop_after_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the services log
    settings = LoadTestSettings(
        model_latency_ms=0,
        model_latency_p99_ms=None,
        model_faults={},
        service_env={"CHATBOT_IP_RATE_LIMIT": "1/minute"},
    )

    with (
        pytest.raises(RuntimeError, match="the load test failed"),
        chat_services(settings, start=True) as target,
    ):
        pids = target.pids
        assert all(alive(pid) for pid in pids) and len(pids) == 2
        assert target.description["chat_service_env"]["CHATBOT_TRUSTED_PROXY_HOPS"] == "1"
        with httpx.Client(base_url=target.base_url, timeout=10, trust_env=False) as client:
            # One question per address per minute: two addresses are two clients.
            assert ask(client, "services-test-1", "198.18.0.1") == 200
            assert ask(client, "services-test-2", "198.18.0.2") == 200
            assert ask(client, "services-test-3", "198.18.0.1") == 429
        logs = sorted(log.name for log in tmp_path.glob("*/*.log"))
        assert logs == ["chat-service-1.log", "fake-bedrock.log"]
        raise RuntimeError("the load test failed")

    assert not any(alive(pid) for pid in pids)
    assert list(tmp_path.iterdir()) == []  # logs go with the services that started fine


def test_sigterm_during_the_test_stops_the_services_as_ctrl_c_does() -> None:
    settings = LoadTestSettings(model_latency_ms=0, model_latency_p99_ms=None)

    with pytest.raises(KeyboardInterrupt), chat_services(settings, start=True) as target:
        pids = target.pids
        os.kill(os.getpid(), signal.SIGTERM)

    assert pids and not any(alive(pid) for pid in pids)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_a_chat_service_that_refuses_its_settings_is_one_error_naming_the_variable() -> None:
    settings = LoadTestSettings(service_env={"CHATBOT_SESSION_RATE_LIMIT": "often"})
    before = children()

    with (
        pytest.raises(ServiceStartError, match="CHATBOT_SESSION_RATE_LIMIT") as error,
        chat_services(settings, start=True),
    ):
        pytest.fail("the block must not run")

    assert children() <= before
    # The service's log is kept for the operator, and named in the message.
    log = Path(re.search(r"\(log: (.+)\)$", str(error.value)).group(1))
    assert "CHATBOT_SESSION_RATE_LIMIT" in log.read_text()
    shutil.rmtree(log.parent)


def test_a_target_url_that_nothing_answers_is_refused_before_any_load() -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}"

    with (
        pytest.raises(ParameterError, match=r"nothing answers at .* or pass --start-services"),
        chat_services(LoadTestSettings(), base_url=url),
    ):
        pytest.fail("the block must not run")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"base_url": "http://192.0.2.10:8080"}, "only loopback targets"),
        ({"base_url": "http://127.0.0.1:8080", "start": True}, "not both"),
    ],
)
def test_targets_that_may_not_be_loaded_are_refused(arguments: dict, message: str) -> None:
    with (
        pytest.raises(ParameterError, match=message),
        chat_services(LoadTestSettings(), **arguments),
    ):
        pytest.fail("the block must not run")
