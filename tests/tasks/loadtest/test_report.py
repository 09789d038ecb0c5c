"""The report: each step judged on its own, the overall verdicts, and what 'passed' means."""

from __future__ import annotations

from dataclasses import replace

from tasks.loadtest.report import judge_load_test
from tasks.loadtest.settings import LoadTestSettings
from tasks.loadtest.summary import StepSummary


def step(rate: float, **changes: object) -> StepSummary:
    sent = round(rate / 2)
    base = StepSummary(
        index=0,
        offered_per_minute=rate,
        window_seconds=30,
        sent=sent,
        achieved_per_minute=rate,
        answered_per_minute=rate,
        latency_ms={"p50": 900, "p90": 1_100, "p95": 1_200, "p99": 1_500, "max": 1_700},
        answered_p95_ms=1_200,
        status_counts={"200": sent},
        error_counts={},
        refusals=0,
        refusals_with_retry_after=0,
        refusal_p99_ms=None,
        timeouts=0,
        server_errors={},
        cache_hit_rate=None,
        cache_source=None,
        upstream_p50_ms=850,
        schedule_lag_p95_ms=2,
    )
    return replace(base, **changes)


def judged(steps: list[StepSummary], services: dict | None = None):
    return judge_load_test.fn(
        "http://127.0.0.1:8080", services or {}, "none", steps, LoadTestSettings(), "done"
    )


def test_each_step_is_judged_on_its_own_and_the_report_passes_without_a_failed_verdict() -> None:
    shed = step(
        400,
        status_counts={"200": 150, "429": 50},
        error_counts={"service_busy": 50},
        refusals=50,
        refusals_with_retry_after=50,
        refusal_p99_ms=8,
    )

    report = judged([step(50), step(100), shed])

    assert [(s.offered_per_minute, s.meets_slo, s.sheds_cleanly) for s in report.step_verdicts] == [
        (50, True, True),
        (100, True, True),
        (400, False, True),
    ]
    assert report.step_verdicts[2].slo_problems == ["answered 75% < 95% (service_busy x50)"]
    assert report.knee_per_minute == 100
    assert report.passed
    assert not report.services_started


def test_one_failed_verdict_fails_the_report() -> None:
    no_retry_after = step(
        100,
        status_counts={"200": 50},
        refusals=4,
        refusals_with_retry_after=3,
    )

    report = judged([no_retry_after], services={"chat_service_env": {}})

    assert report.step_verdicts[0].shedding_problems == ["1 of 4 refusals without Retry-After"]
    assert not report.passed
    assert report.services_started
