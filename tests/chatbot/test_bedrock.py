"""The Bedrock client through the live service: one call per message, error mapping, retries."""

from __future__ import annotations

import socket

import pytest

from chatbot.errors import (
    BadUpstreamResponse,
    DeadlineExceeded,
    ModelThrottled,
    ModelUnavailable,
)
from chatbot.fake_bedrock import Fault
from chatbot.fake_bedrock_faults import ERRORS

# A breaker that never opens, so each case sees the mapping alone.
NO_BREAKER = {"circuit_failure_threshold": 1000}


def test_one_message_makes_exactly_one_converse_call(fake, client, api):
    for index in range(3):
        response = client.post("/api/chat", json=api.chat_body(f"Question {index}?"))
        assert response.status_code == 200
    assert fake.stats.calls == {"Converse": 3}


def test_answer_is_the_models_text_for_this_question_and_page(fake, client, api):
    body = api.chat_body("Is there an annual fee?")
    response = client.post("/api/chat", json=body)
    assert response.status_code == 200
    page = body["page"]
    assert response.json() == {
        "answer": api.fake_answer(body["message"], page["title"], page["url"]),
        "request_id": response.headers["x-request-id"],
    }


def test_request_uses_converse_with_settings_and_no_hard_coded_region(fake, start, api):
    service = start(
        model_id="anthropic.claude-3-haiku-20240307-v1:0",
        aws_region="eu-west-1",
        max_tokens=123,
        temperature=0.0,
    )
    api.post_chat(service, api.chat_body())
    recorded = fake.stats.last_request
    assert recorded.operation == "Converse"
    assert recorded.model_id == "anthropic.claude-3-haiku-20240307-v1:0"
    assert recorded.region == "eu-west-1"
    assert recorded.body["inferenceConfig"] == {"maxTokens": 123, "temperature": 0.0}
    assert "guardrailConfig" not in recorded.body


def test_guardrail_from_settings_is_sent_with_every_call(fake, start, api):
    service = start(guardrail_id="abc123guard", guardrail_version="2")
    api.post_chat(service, api.chat_body())
    assert fake.stats.last_request.body["guardrailConfig"] == {
        "guardrailIdentifier": "abc123guard",
        "guardrailVersion": "2",
    }


UPSTREAM_CASES = [
    ("throttling", ModelThrottled),
    ("model_not_ready", ModelUnavailable),
    ("internal", ModelUnavailable),
    ("unavailable", ModelUnavailable),
    ("access_denied", ModelUnavailable),
    ("not_found", ModelUnavailable),
    ("model_timeout", DeadlineExceeded),
    ("validation", BadUpstreamResponse),
    ("model_error", BadUpstreamResponse),
    ("malformed", BadUpstreamResponse),
]


@pytest.mark.parametrize(("kind", "expected"), UPSTREAM_CASES, ids=[c[0] for c in UPSTREAM_CASES])
def test_each_upstream_error_maps_to_its_status_and_safe_message(fake, start, api, kind, expected):
    service = start(**NO_BREAKER)
    fake.set_faults(Fault(kind, times=None))
    response = api.post_chat(service, api.chat_body())
    body = api.assert_error_shape(response, expected.status, expected.code)
    assert body["message"] == expected.default_message
    if expected.status == 503:
        assert int(response.headers["retry-after"]) >= 1
    if kind in ERRORS:
        assert ERRORS[kind].message not in response.text
        assert ERRORS[kind].code not in response.text


@pytest.mark.parametrize("kind", ["throttling", "model_not_ready", "internal", "unavailable"])
def test_transient_errors_are_retried_within_the_deadline(fake, service, api, kind):
    fake.set_faults(Fault(kind, times=1))
    response = api.post_chat(service, api.chat_body())
    assert response.status_code == 200
    assert fake.stats.calls["Converse"] == 2


@pytest.mark.parametrize("kind", ["validation", "access_denied", "model_timeout", "malformed"])
def test_permanent_errors_are_not_retried(fake, start, api, kind):
    service = start(**NO_BREAKER)
    fake.set_faults(Fault(kind, times=None))
    api.post_chat(service, api.chat_body())
    assert fake.stats.calls["Converse"] == 1


def test_persistent_throttling_gives_503_with_retry_after_after_bounded_attempts(fake, start, api):
    service = start(max_attempts=3, **NO_BREAKER)
    fake.set_faults(Fault("throttling", times=None))
    response = api.post_chat(service, api.chat_body())
    api.assert_error_shape(response, 503, "model_throttled")
    assert int(response.headers["retry-after"]) >= 1
    assert fake.stats.calls["Converse"] == 3


def test_retries_stop_when_the_remaining_budget_is_too_small(fake, start, api):
    # Each throttled answer takes 0.5 s and an attempt needs 0.55 s of budget: after one attempt
    # a 1.5 s deadline has about 1 s left (a retry fits), after two under 0.5 s, so the service
    # answers 503 at once instead of starting a third call that the deadline would cut (504),
    # whatever max_attempts says.
    service = start(deadline_seconds=1.5, min_attempt_seconds=0.55, max_attempts=5, **NO_BREAKER)
    fake.set_faults(Fault("throttling", times=None, delay_seconds=0.5))
    response = api.post_chat(service, api.chat_body())
    api.assert_error_shape(response, 503, "model_throttled")
    assert fake.stats.calls["Converse"] == 2


def test_a_stalled_model_gives_504_at_the_deadline(fake, start, api):
    service = start(deadline_seconds=0.4, min_attempt_seconds=0.1, read_timeout_seconds=0.6)
    fake.set_faults(Fault("stall", times=None, delay_seconds=1.5))
    response = api.post_chat(service, api.chat_body())
    body = api.assert_error_shape(response, 504, "deadline_exceeded")
    assert body["message"] == DeadlineExceeded.default_message


def test_quota_throttling_from_the_fake_is_absorbed_or_surfaced_as_503(fake, start, api):
    from chatbot.fake_bedrock import FakeBedrockConfig

    fake.set_config(FakeBedrockConfig(requests_per_minute=2))
    service = start(**NO_BREAKER)
    statuses = [api.post_chat(service, api.chat_body(f"Q{i}")).status_code for i in range(4)]
    assert statuses[:2] == [200, 200]
    assert set(statuses[2:]) == {503}
    assert fake.stats.errors["ThrottlingException"] >= 2


def test_boto3_client_uses_timeouts_pool_and_no_hidden_retries_from_settings(aws_env):
    from chatbot.bedrock import make_boto3_client
    from chatbot.settings import ChatbotSettings

    settings = ChatbotSettings(
        connect_timeout_seconds=0.3,
        read_timeout_seconds=1.5,
        max_pool_connections=32,
        max_concurrent_upstream=32,
    )
    config = make_boto3_client(settings).meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.3, 1.5)
    assert config.max_pool_connections == 32
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}


def test_boto3_client_is_created_once_per_process(fake, start, api, monkeypatch):
    import boto3.session

    created = []
    original = boto3.session.Session.client

    def counting(self, service_name, *args, **kwargs):
        created.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", counting)
    service = start()
    for index in range(3):
        api.post_chat(service, api.chat_body(f"Q{index}"))
    assert created == ["bedrock-runtime"]


def test_unreachable_bedrock_gives_503_model_unavailable(fake, start, api, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")
    service = start(**NO_BREAKER)
    response = api.post_chat(service, api.chat_body())
    body = api.assert_error_shape(response, 503, "model_unavailable")
    assert str(port) not in body["message"]
    assert fake.stats.total_calls == 0
