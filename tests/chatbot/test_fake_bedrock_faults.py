"""Scripted faults apply in order and count down; fault rates are validated and seeded."""

from __future__ import annotations

import random

import pytest

from chatbot.fake_bedrock import FakeBedrockConfig
from chatbot.fake_bedrock_faults import ERRORS, Fault, FaultConfigError, FaultPlan


def test_scripted_faults_apply_before_rates_and_expire_after_their_count() -> None:
    plan = FaultPlan([Fault("internal", times=2)], {"throttling": 1.0}, random.Random(0))

    kinds = [plan.next_fault("Converse").kind for _ in range(3)]

    assert kinds == ["internal", "internal", "throttling"]


def test_fault_without_a_count_repeats_until_replaced() -> None:
    plan = FaultPlan([Fault("unavailable", times=None)], {}, random.Random(0))

    assert all(plan.next_fault("Converse").kind == "unavailable" for _ in range(50))
    plan.replace([])
    assert plan.next_fault("Converse") is None


def test_fault_for_other_operations_is_skipped_and_kept() -> None:
    only_stream = Fault("model_timeout", operations=frozenset({"ConverseStream"}))
    plan = FaultPlan([only_stream], {}, random.Random(0))

    assert plan.next_fault("Converse") is None
    assert plan.next_fault("ConverseStream") == only_stream
    assert plan.pending() == []


def test_fault_rates_hit_at_about_their_probability() -> None:
    plan = FaultPlan([], {"internal": 0.25}, random.Random(1))

    hits = sum(plan.next_fault("Converse") is not None for _ in range(4000))

    assert hits == pytest.approx(1000, rel=0.1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Fault("explode"), "unknown fault kind"),  # type: ignore[arg-type]
        (lambda: Fault("internal", times=0), "times"),
        (lambda: Fault("internal", operations=frozenset({"Chat"})), "unknown operations"),
        (lambda: Fault("model_not_ready", mid_stream=True), "mid-stream"),
        (lambda: FakeBedrockConfig(fault_rates={"internal": 0.7, "stall": 0.4}), "more than 1"),
        (lambda: FakeBedrockConfig(fault_rates={"internal": -0.1}), "within 0..1"),
    ],
)
def test_impossible_faults_are_refused_with_a_reason(build, message) -> None:
    with pytest.raises(FaultConfigError, match=message):
        build()


def test_error_statuses_match_botocore_service_model() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")

    for error in ERRORS.values():
        shape = model.shape_for(error.code)
        assert shape.metadata["error"]["httpStatusCode"] == error.status, error.code


def test_a_fault_limited_to_a_model_spares_the_others() -> None:
    plan = FaultPlan(
        [Fault("throttling", times=None, models=frozenset({"primary"}))], {}, random.Random(0)
    )
    assert plan.next_fault("Converse", "fallback") is None
    assert plan.next_fault("Converse", "primary") is not None


def test_a_mid_stream_stall_is_answered_late_but_whole(fake) -> None:
    import boto3
    from botocore.config import Config

    fake.set_faults(Fault("stall", mid_stream=True, delay_seconds=0.3))
    client = boto3.client(
        "bedrock-runtime", endpoint_url=fake.url, config=Config(region_name="us-east-1")
    )
    response = client.converse_stream(
        modelId="m", messages=[{"role": "user", "content": [{"text": "Hello there?"}]}]
    )
    events = list(response["stream"])
    assert "messageStop" in events[-2] and "metadata" in events[-1]
    assert fake.stats.requests[-1].outcome == "stall+ok"
