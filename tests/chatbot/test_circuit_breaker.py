"""The circuit breaker: opens after N failures, fails fast, half-opens, recovers or re-opens."""

from __future__ import annotations

import time

import httpx
import pytest

from chatbot.circuit_breaker import CircuitBreaker, CircuitState
from chatbot.errors import ModelUnavailable
from chatbot.fake_bedrock import Fault


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_breaker(threshold: int = 3, cooldown: float = 10.0) -> tuple[CircuitBreaker, ManualClock]:
    clock = ManualClock()
    return CircuitBreaker(threshold, cooldown, clock=clock), clock


def test_breaker_stays_closed_below_the_threshold_and_resets_on_success():
    breaker, _ = make_breaker(threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.acquire() is False


def test_breaker_opens_at_the_threshold_and_fails_fast_with_retry_after():
    breaker, clock = make_breaker(threshold=3, cooldown=10.0)
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 2.5
    with pytest.raises(ModelUnavailable) as raised:
        breaker.acquire()
    assert raised.value.retry_after == 8


def test_breaker_half_opens_after_cooldown_and_admits_a_single_probe():
    breaker, clock = make_breaker(threshold=1, cooldown=5.0)
    breaker.record_failure()
    clock.now += 5.0
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.acquire() is True
    with pytest.raises(ModelUnavailable):
        breaker.acquire()


def test_successful_probe_closes_the_breaker():
    breaker, clock = make_breaker(threshold=1, cooldown=5.0)
    breaker.record_failure()
    clock.now += 6
    breaker.acquire()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.acquire() is False


def test_failed_probe_reopens_for_a_full_cooldown():
    breaker, clock = make_breaker(threshold=3, cooldown=5.0)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 6
    breaker.acquire()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 4.9
    assert breaker.state is CircuitState.OPEN


def test_abandoned_probe_frees_the_probe_slot():
    breaker, clock = make_breaker(threshold=1, cooldown=1.0)
    breaker.record_failure()
    clock.now += 2
    was_probe = breaker.acquire()
    breaker.release(was_probe)
    assert breaker.acquire() is True


def test_live_service_opens_the_circuit_then_recovers_when_bedrock_is_back(fake, start, api):
    service = start(circuit_failure_threshold=2, circuit_cooldown_seconds=0.5, max_attempts=1)
    fake.set_faults(Fault("unavailable", times=None))
    for index in range(2):
        failed = api.post_chat(service, api.chat_body(session_id=f"session-fail-{index}"))
        api.assert_error_shape(failed, 503, "model_unavailable")
    assert fake.stats.calls["Converse"] == 2

    fast = api.post_chat(service, api.chat_body(session_id="session-while-open"))
    api.assert_error_shape(fast, 503, "model_unavailable")
    assert int(fast.headers["retry-after"]) >= 1
    assert fake.stats.calls["Converse"] == 2  # failed fast: no upstream call

    metrics = httpx.get(f"{service.base_url}/metrics").text
    assert "chatbot_circuit_open 1.0" in metrics

    fake.set_faults()
    time.sleep(0.6)  # let the cool-down pass; the test asserts outcomes, not durations
    recovered = api.post_chat(service, api.chat_body(session_id="session-probe"))
    assert recovered.status_code == 200
    after = api.post_chat(service, api.chat_body(session_id="session-after"))
    assert after.status_code == 200
    assert fake.stats.calls["Converse"] == 4
    assert "chatbot_circuit_open 0.0" in httpx.get(f"{service.base_url}/metrics").text


def test_client_errors_never_open_the_circuit(fake, start, api):
    service = start(circuit_failure_threshold=1, max_attempts=1)
    fake.set_faults(Fault("validation", times=None))
    for index in range(3):
        response = api.post_chat(service, api.chat_body(session_id=f"session-v{index}"))
        api.assert_error_shape(response, 502, "bad_upstream_response")
    assert fake.stats.calls["Converse"] == 3
