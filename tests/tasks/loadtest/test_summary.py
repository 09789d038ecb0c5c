"""Percentiles match numpy; status buckets, budget share and Retry-After counts add up."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.loadtest.driver import RequestOutcome
from tasks.loadtest.summary import percentile, render_markdown, summarize


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear_interpolation(q: float) -> None:
    values = list(np.random.default_rng(0).lognormal(0, 1, size=257))

    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_nothing_is_none_and_of_one_value_is_that_value() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0


def outcome(sent_at: float, status: int | None, latency: float = 0.1, **extra) -> RequestOutcome:
    return RequestOutcome(sent_at, sent_at, latency, status, **extra)


def test_summary_buckets_statuses_and_counts_add_up_to_sent() -> None:
    outcomes = [
        outcome(0.0, 200, 0.5),
        outcome(0.5, 200, 2.5),
        outcome(1.0, 429, retry_after="1"),
        outcome(1.5, 429),
        outcome(2.0, 503, retry_after="2"),
        outcome(2.5, 504),
        outcome(3.0, 418),
        outcome(3.5, None, error="ReadTimeout"),
    ]

    summary = summarize(outcomes, "http://127.0.0.1:1", 120, planned=8)

    assert summary.status_counts == {"200": 2, "429": 2, "503": 1, "504": 1, "other": 1}
    assert summary.other_statuses == {418: 1}
    assert summary.transport_errors == 1
    assert summary.sent == sum(summary.status_counts.values()) + summary.transport_errors
    assert (summary.retry_after_on_429, summary.retry_after_on_503) == (1, 1)
    assert not summary.retry_after_always_present
    assert summary.within_budget_share == pytest.approx(1 / 8)  # only the 0.5 s answer
    assert summary.latency_p50_ms == pytest.approx(1500)
    assert summary.achieved_requests_per_minute == pytest.approx(120)  # 7 gaps in 3.5 s
    assert summary.error_samples == ["ReadTimeout x1"]


def test_summary_of_late_sends_reports_schedule_lag() -> None:
    late = [RequestOutcome(1.0, 1.2, 0.1, 200), RequestOutcome(2.0, 2.0, 0.1, 200)]

    assert summarize(late, "u", 60, 2).schedule_lag_p99_ms == pytest.approx(198)


def test_markdown_table_names_every_measure() -> None:
    table = render_markdown(summarize([outcome(0.0, 200)], "http://127.0.0.1:1", 60, 1))

    for measure in ("status 429", "status 503", "p50 / p95 / p99", "within 2 s", "Retry-After"):
        assert measure in table
    assert table.startswith("| measure | value |")
