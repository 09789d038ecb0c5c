"""The ramp: listed steps, then doubling while the SLO holds, bounded in count and time."""

from __future__ import annotations

import pytest

from tasks.loadtest.ramp import next_rate, step_budget_seconds, step_size
from tasks.loadtest.settings import LoadTestSettings
from tasks.loadtest.summary import StepSummary

SETTINGS = LoadTestSettings()


def step(rate: float, p95_ms: float = 1_000) -> StepSummary:
    return StepSummary(
        index=0,
        offered_per_minute=rate,
        window_seconds=30,
        sent=10,
        achieved_per_minute=rate,
        answered_per_minute=rate,
        latency_ms={"p50": 800, "p90": 900, "p95": p95_ms, "p99": p95_ms, "max": p95_ms},
        answered_p95_ms=p95_ms,
        status_counts={"200": 10},
        error_counts={},
        refusals=0,
        refusals_with_retry_after=0,
        refusal_p99_ms=None,
        timeouts=0,
        server_errors={},
        cache_hit_rate=None,
        cache_source=None,
        upstream_p50_ms=None,
        schedule_lag_p95_ms=1,
    )


def ramp_rates(settings: LoadTestSettings, breaks_above: float = float("inf")) -> list[float]:
    """The rates the ramp runs when every step takes its whole budget."""
    done: list[StepSummary] = []
    rate, _ = next_rate(settings, done, 0.0)
    while rate is not None:
        done.append(step(rate, p95_ms=3_000 if rate > breaks_above else 1_000))
        rate, _ = next_rate(settings, done, len(done) * step_budget_seconds(settings))
    return [s.offered_per_minute for s in done]


def test_a_step_is_bounded_in_count_and_keeps_its_rate_when_the_count_caps_it() -> None:
    assert step_size(100, SETTINGS) == (50, 30)
    assert step_size(6_400, SETTINGS) == (2_000, pytest.approx(18.75))
    assert step_size(1, SETTINGS) == (1, 30)


def test_the_listed_steps_run_then_the_rate_doubles_while_the_slo_holds() -> None:
    assert ramp_rates(SETTINGS) == [50, 100, 200, 400, 800, 1_600, 3_200, 6_400]


def test_the_listed_steps_all_run_and_doubling_stops_at_the_first_broken_slo() -> None:
    assert ramp_rates(SETTINGS, breaks_above=300) == [50, 100, 200, 400, 800]
    assert ramp_rates(SETTINGS, breaks_above=1_000) == [50, 100, 200, 400, 800, 1_600]


def test_the_ramp_says_why_it_stopped() -> None:
    broken = [step(rate) for rate in (50, 100, 200, 400)] + [step(800, p95_ms=2_500)]
    at_max = [step(rate) for rate in (50, 100, 200, 400, 800, 1_600, 3_200, 6_400)]

    assert next_rate(SETTINGS, broken, 10)[1].startswith("the SLO broke at 800/min: p95 2500 ms")
    assert next_rate(SETTINGS, at_max, 10) == (
        None,
        "the SLO held up to the maximum rate (6400/min)",
    )
    assert next_rate(SETTINGS, at_max[:3], 290) == (
        None,
        "the next step (400/min) would end after the 300 s budget",
    )


def test_the_default_ramp_ends_within_five_minutes_in_the_worst_case() -> None:
    steps = len(ramp_rates(SETTINGS))

    assert steps * step_budget_seconds(SETTINGS) <= 300


def test_a_short_time_budget_cuts_the_ramp() -> None:
    short = LoadTestSettings(step_seconds=10, timeout_seconds=5, max_total_seconds=45)

    assert ramp_rates(short) == [50, 100, 200]
