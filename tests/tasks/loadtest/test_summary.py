"""Step figures: percentiles match numpy; statuses, refusals, abusers and cache add up."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.loadtest.driver import RequestOutcome
from tasks.loadtest.service_metrics import MetricsDelta
from tasks.loadtest.summary import percentile, summarize_step


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear_interpolation(q: float) -> None:
    values = list(np.random.default_rng(0).lognormal(0, 1, size=257))

    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_nothing_is_none_and_of_one_value_is_that_value() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0


def outcome(at: float, status: int | None, latency: float = 0.1, **extra) -> RequestOutcome:
    return RequestOutcome(at, at, latency, status, **extra)


MIXED = [
    outcome(0.0, 200, 0.5, upstream_ms=400.0),
    outcome(0.5, 200, 2.5, upstream_ms=2_300.0),
    outcome(1.0, 429, 0.01, retry_after="1", error="rate_limited"),
    outcome(1.5, 429, 0.03, error="service_busy"),
    outcome(2.0, 503, 0.02, retry_after="2", error="model_throttled"),
    outcome(2.5, 504, 1.8, error="deadline_exceeded"),
    outcome(3.0, 500, 0.2, error="internal_error"),
    outcome(3.5, None, 5.0, error="ReadTimeout"),
    outcome(0.2, 429, 0.01, retry_after="30", abusive=True, session_id="abuser-1"),
    outcome(0.7, 200, 0.4, abusive=True, session_id="abuser-1"),
    outcome(0.9, 200, 0.4, abusive=True, session_id="abuser-2"),
]


def test_counts_by_status_and_error_cover_every_ordinary_request() -> None:
    step = summarize_step(0, 120, 4.0, MIXED)

    assert step.sent == 8
    assert step.status_counts == {
        "200": 2, "429": 2, "500": 1, "503": 1, "504": 1, "no_answer": 1
    }  # fmt: skip
    assert sum(step.status_counts.values()) == step.sent
    assert step.error_counts == {
        "rate_limited": 1,
        "service_busy": 1,
        "model_throttled": 1,
        "deadline_exceeded": 1,
        "internal_error": 1,
        "ReadTimeout": 1,
    }
    assert step.answered_share == pytest.approx(2 / 8)


def test_latency_covers_every_ordinary_request_whatever_its_answer() -> None:
    step = summarize_step(0, 120, 4.0, MIXED)

    ordinary_ms = [500, 2_500, 10, 30, 20, 1_800, 200, 5_000]
    assert step.latency_ms["p50"] == pytest.approx(float(np.percentile(ordinary_ms, 50)))
    assert step.latency_ms["p95"] == pytest.approx(float(np.percentile(ordinary_ms, 95)))
    assert step.latency_ms["max"] == pytest.approx(5_000)
    assert step.answered_p95_ms == pytest.approx(float(np.percentile([500, 2_500], 95)))
    assert step.upstream_p50_ms == pytest.approx(1_350)


def test_refusals_include_abusive_clients_and_count_retry_after() -> None:
    step = summarize_step(0, 120, 4.0, MIXED)

    assert step.refusals == 4  # three ordinary 429/503 and the abuser's 429
    assert step.refusals_with_retry_after == 3
    assert step.retry_after_share == pytest.approx(3 / 4)
    assert step.refusal_p99_ms == pytest.approx(float(np.percentile([10, 30, 20, 10], 99)))
    assert step.timeouts == 2  # the 504 and the request without an answer
    assert step.server_errors == {"500": 1}


def test_abusive_clients_are_counted_apart_from_ordinary_ones() -> None:
    step = summarize_step(0, 120, 4.0, MIXED)

    assert (step.abusive_sent, step.abusive_answered, step.abusive_refused) == (3, 2, 1)
    assert (step.abusive_clients, step.abusive_clients_refused) == (2, 1)


def test_rates_are_per_minute_of_the_window_and_a_late_driver_lowers_the_achieved_rate() -> None:
    on_time = [outcome(at, 200) for at in (0.0, 1.0, 2.0, 3.0)]
    late = [RequestOutcome(at, at * 2, 0.1, 200) for at in (0.0, 1.0, 2.0, 3.0)]

    assert summarize_step(0, 60, 4.0, on_time).achieved_per_minute == pytest.approx(60)
    assert summarize_step(0, 60, 4.0, on_time).answered_per_minute == pytest.approx(60)
    lagging = summarize_step(0, 60, 4.0, late)
    assert lagging.achieved_per_minute == pytest.approx(4 / 6 * 60)
    assert lagging.schedule_lag_p95_ms == pytest.approx(
        float(np.percentile([0, 1e3, 2e3, 3e3], 95))
    )


def test_cache_hit_rate_comes_from_headers_first_then_from_metrics() -> None:
    answered = [outcome(0.0, 200, cache="hit"), outcome(1.0, 200, cache="miss")]
    metrics = MetricsDelta(None, None, None, cache_hits=3, cache_misses=1, throttles_by_source={})

    from_headers = summarize_step(0, 60, 2.0, [*answered, outcome(1.5, 200, cache="hit")], metrics)
    from_metrics = summarize_step(0, 60, 2.0, [outcome(0.0, 200)], metrics)
    unknown = summarize_step(0, 60, 2.0, [outcome(0.0, 200)], None)

    assert (from_headers.cache_hit_rate, from_headers.cache_source) == (
        pytest.approx(2 / 3),
        "headers",
    )
    assert (from_metrics.cache_hit_rate, from_metrics.cache_source) == (0.75, "metrics")
    assert (unknown.cache_hit_rate, unknown.cache_source) == (None, None)


def test_upstream_counters_of_the_step_are_kept() -> None:
    metrics = MetricsDelta(4, 40, 2, None, None, {"upstream": 4, "session": 9})

    step = summarize_step(0, 60, 2.0, [outcome(0.0, 200)], metrics)

    assert (step.upstream_throttled_attempts, step.fallback_events) == (4, 2)
    assert step.throttles_by_source == {"upstream": 4, "session": 9}
