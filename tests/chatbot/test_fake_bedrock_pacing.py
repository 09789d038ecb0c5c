"""Sampled latency matches its median and p99, counted from the request's arrival; quotas slide."""

from __future__ import annotations

import json
import random
import socket
import statistics
import time

import pytest

from chatbot.fake_bedrock import FakeBedrock, FakeBedrockConfig, Fault
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


def _slow_converse(fake: FakeBedrock, body_delay: float) -> tuple[float, bytes]:
    """A Converse whose body arrives `body_delay` after its request line; seconds to the reply."""
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}).encode()
    head = (
        f"POST /model/m/converse HTTP/1.1\r\nHost: {fake.url.removeprefix('http://')}\r\n"
        f"Authorization: Bearer t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = fake.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(head)
        time.sleep(body_delay)
        sock.sendall(body)
        reply = sock.recv(65536)
        return time.monotonic() - started, reply


def test_model_latency_runs_from_the_request_line_not_from_the_end_of_the_fakes_work() -> None:
    # The fake's own time (here a body that arrives late, standing for parsing and bookkeeping)
    # is inside the model latency, so the service's measured overhead does not include it.
    with FakeBedrock(FakeBedrockConfig(latency_ms_median=600)) as fake:
        seconds, reply = _slow_converse(fake, body_delay=0.4)
    assert reply.startswith(b"HTTP/1.1 200")
    assert 0.6 <= seconds < 0.9  # 0.4 s of late body + 0.6 s of latency would be 1.0 s


def test_a_stall_holds_the_answer_back_before_the_model_latency_starts() -> None:
    config = FakeBedrockConfig(latency_ms_median=300, faults=(Fault("stall", delay_seconds=0.3),))
    with FakeBedrock(config) as fake:
        seconds, reply = _slow_converse(fake, body_delay=0.0)
    assert reply.startswith(b"HTTP/1.1 200")
    assert seconds >= 0.6
