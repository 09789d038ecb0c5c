"""Sampled latency matches its median and p99; quotas slide over their window."""

from __future__ import annotations

import random
import statistics

import pytest

from chatbot.fake_bedrock_faults import TOO_MANY_REQUESTS, TOO_MANY_TOKENS
from chatbot.fake_bedrock_pacing import LatencySampler, Quotas


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lognormal_latency_hits_the_configured_median_and_p99() -> None:
    sampler = LatencySampler(800, 1600, random.Random(0))

    samples = sorted(sampler.sample_seconds() * 1000 for _ in range(20_000))

    assert statistics.median(samples) == pytest.approx(800, rel=0.03)
    assert samples[int(0.99 * len(samples))] == pytest.approx(1600, rel=0.06)


def test_latency_without_p99_is_fixed_at_the_median() -> None:
    sampler = LatencySampler(250, None, random.Random(0))

    assert {sampler.sample_seconds() for _ in range(10)} == {0.25}


def test_same_seed_gives_the_same_latencies() -> None:
    first = LatencySampler(100, 400, random.Random(3))
    second = LatencySampler(100, 400, random.Random(3))

    assert [first.sample_seconds() for _ in range(5)] == [second.sample_seconds() for _ in range(5)]


def test_p99_below_median_is_refused() -> None:
    with pytest.raises(ValueError, match="p99"):
        LatencySampler(800, 100, random.Random(0))


def test_requests_quota_throttles_then_frees_as_the_window_slides() -> None:
    clock = ManualClock()
    quotas = Quotas(requests_per_minute=2, tokens_per_minute=None, clock=clock)

    assert [quotas.admit(10) for _ in range(3)] == [None, None, TOO_MANY_REQUESTS]
    clock.now += 59.9
    assert quotas.admit(10) == TOO_MANY_REQUESTS
    clock.now += 0.2
    assert quotas.admit(10) is None


def test_tokens_quota_does_not_charge_throttled_requests() -> None:
    quotas = Quotas(requests_per_minute=None, tokens_per_minute=100, clock=ManualClock())

    assert quotas.admit(60) is None
    assert quotas.admit(60) == TOO_MANY_TOKENS
    assert quotas.admit(40) is None  # the refused 60 were not charged
    assert quotas.admit(1) == TOO_MANY_TOKENS


def test_requests_quota_is_checked_before_tokens_and_a_token_refusal_uses_no_request() -> None:
    quotas = Quotas(requests_per_minute=2, tokens_per_minute=100, clock=ManualClock())

    assert quotas.admit(150) == TOO_MANY_TOKENS
    assert [quotas.admit(1), quotas.admit(1)] == [None, None]
    assert quotas.admit(1) == TOO_MANY_REQUESTS
