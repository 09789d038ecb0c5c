"""The fallback model: a throttled or failing primary hands over, cools down, then comes back."""

from __future__ import annotations

import logging
import time

import pytest

from chatbot.fake_bedrock import Fault
from chatbot.model_routing import PRIMARY_COOLING, PRIMARY_FAILED, ModelRouter

PRIMARY = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
FALLBACK = "anthropic.claude-3-haiku-20240307-v1:0"


def models_called(fake) -> list[tuple[str, str]]:
    return [(request.model_id, request.outcome) for request in fake.stats.requests]


def fallbacks(service, reason: str) -> float:
    registry = service.app.state.metrics.registry
    value = registry.get_sample_value("chatbot_model_fallbacks_total", {"reason": reason})
    return value or 0.0


@pytest.mark.parametrize(
    ("kind", "code"),
    [("throttling", "ThrottlingException"), ("unavailable", "ServiceUnavailableException")],
)
def test_a_failing_primary_is_answered_by_the_fallback_within_the_deadline(
    fake, start, api, caplog, kind, code
):
    caplog.set_level(logging.WARNING, logger="chatbot")
    service = start(model_id=PRIMARY, fallback_model_id=FALLBACK, max_attempts=3)
    fake.set_faults(Fault(kind, times=None, models=frozenset({PRIMARY})))
    response = api.post_chat(service, api.chat_body())
    assert response.status_code == 200  # not the 503 of three calls to the same model
    assert models_called(fake) == [(PRIMARY, code), (FALLBACK, "ok")]
    assert fallbacks(service, PRIMARY_FAILED) == 1
    [record] = [r for r in caplog.records if r.getMessage() == "model_fallback"]
    assert record.fields["request_id"] == response.headers["x-request-id"]
    assert record.fields["to_model"] == FALLBACK


def test_the_primary_cools_down_then_gets_the_questions_back(fake, start, api):
    service = start(
        model_id=PRIMARY, fallback_model_id=FALLBACK, model_cooldown_seconds=0.5, max_attempts=3
    )
    fake.set_faults(Fault("throttling", times=1, models=frozenset({PRIMARY})))
    api.post_chat(service, api.chat_body("First?"))
    api.post_chat(service, api.chat_body("During the cool-down?"))
    assert models_called(fake)[-1] == (FALLBACK, "ok")  # straight to the fallback
    assert fallbacks(service, PRIMARY_COOLING) == 1
    time.sleep(0.6)  # outcomes are asserted, not durations: the cool-down is allowed to pass
    api.post_chat(service, api.chat_body("After the cool-down?"))
    assert models_called(fake)[-1] == (PRIMARY, "ok")


def test_a_rejected_request_does_not_fall_back(fake, start, api):
    # A 400 means our request is wrong; another model would reject it too, and cost a call.
    service = start(model_id=PRIMARY, fallback_model_id=FALLBACK)
    fake.set_faults(Fault("validation", times=None, models=frozenset({PRIMARY})))
    api.assert_error_shape(api.post_chat(service, api.chat_body()), 502, "bad_upstream_response")
    assert models_called(fake) == [(PRIMARY, "ValidationException")]


def test_the_stream_falls_back_too(fake, start, api):
    service = start(model_id=PRIMARY, fallback_model_id=FALLBACK)
    fake.set_faults(Fault("throttling", times=None, models=frozenset({PRIMARY})))
    response = api.post_chat(service, api.chat_body(), "/api/chat/stream")
    assert api.sse_events(response.text)[-1][0] == "done"
    assert [model for model, _ in models_called(fake)] == [PRIMARY, FALLBACK]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_router_prefers_the_primary_and_the_model_that_recovers_first():
    clock = Clock()
    router = ModelRouter("p", "f", cooldown_seconds=10, clock=clock)
    assert router.choose().model_id == "p"
    router.cool_down("p")
    assert router.choose().fallback_reason == PRIMARY_COOLING
    assert router.choose(["p"]).fallback_reason == PRIMARY_FAILED
    clock.now = 5
    router.cool_down("f")
    assert router.choose().model_id == "p"  # both cooling: the primary recovers first
    clock.now = 10.1
    assert router.choose().model_id == "p" and router.choose().fallback_reason is None


def test_without_a_fallback_there_is_nothing_to_cool_down():
    router = ModelRouter("p", None, cooldown_seconds=10)
    assert router.cool_down("p") is False
    assert router.choose(["p"]).model_id == "p"
