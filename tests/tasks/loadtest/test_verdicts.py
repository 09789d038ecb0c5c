"""Verdicts: the SLO at 100/min, clean shedding, abusers limited, throttles counted, the knee."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasks.loadtest.settings import LoadTestSettings
from tasks.loadtest.summary import StepSummary
from tasks.loadtest.verdicts import judge, knee, slo_problems

SETTINGS = LoadTestSettings()


def step(rate: float, **changes: object) -> StepSummary:
    """A healthy step: everything answered in about a second, no refusals."""
    sent = max(1, round(rate / 2))
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
        abusive_sent=30,
        abusive_answered=5,
        abusive_refused=25,
        abusive_clients_refused=2,
        abusive_clients=2,
        upstream_throttled_attempts=3,
    )
    return replace(base, **changes)


def overloaded(rate: float) -> StepSummary:
    """Beyond the limits: a quarter of the questions refused fast, with Retry-After."""
    sent = round(rate / 2)
    refused = sent // 4
    return step(
        rate,
        status_counts={"200": sent - refused, "429": refused},
        error_counts={"service_busy": refused},
        refusals=refused + 25,
        refusals_with_retry_after=refused + 25,
        refusal_p99_ms=12,
    )


def by_name(steps: list[StepSummary], settings: LoadTestSettings = SETTINGS) -> dict:
    return {verdict.name: verdict for verdict in judge(steps, settings)}


RAMP = [step(50), step(100), step(200), step(400), overloaded(800)]


def test_a_healthy_ramp_that_sheds_cleanly_passes_every_verdict() -> None:
    verdicts = by_name(RAMP)

    assert {name: v.status for name, v in verdicts.items()} == {
        "slo_at_100_per_min": "pass",
        "excess_refused_cleanly": "pass",
        "abusive_limited_ordinary_answered": "pass",
        "upstream_throttles_absorbed": "info",
        "knee": "info",
        "generator_kept_up": "pass",
    }
    assert verdicts["knee"].detail == "highest step meeting the SLO: 400/min"
    assert knee(RAMP, SETTINGS) == 400


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"latency_ms": {"p50": 1_500, "p90": 1_900, "p95": 2_100, "p99": 2_500, "max": 3_000}},
         "p95 2100 ms >= 2000 ms"),
        ({"status_counts": {"200": 49, "502": 1}}, "5xx other than 503: 502 x1"),
        ({"status_counts": {"200": 49, "no_answer": 1}},
         "no answer (timeout or transport error) x1"),
        ({"status_counts": {"200": 10, "503": 40}, "error_counts": {"model_throttled": 40}},
         "answered 20% < 95% (model_throttled x40)"),
    ],
)  # fmt: skip
def test_the_slo_verdict_fails_naming_the_reason(changes: dict, reason: str) -> None:
    ramp = [step(50), step(100, **changes), step(200)]

    verdict = by_name(ramp)["slo_at_100_per_min"]

    assert verdict.status == "fail"
    assert verdict.detail == f"100/min: {reason}"
    assert knee(ramp, SETTINGS) == 200


def test_a_few_503s_at_the_slo_rate_are_allowed() -> None:
    ok = step(100, status_counts={"200": 49, "503": 1}, error_counts={"model_unavailable": 1})

    assert slo_problems(ok, SETTINGS) == []


def test_without_a_step_at_the_slo_rate_the_slo_is_not_evaluated_rather_than_passed() -> None:
    verdicts = by_name([step(200), step(400)])

    assert verdicts["slo_at_100_per_min"].status == "not_evaluated"
    assert verdicts["abusive_limited_ordinary_answered"].status == "not_evaluated"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"refusals_with_retry_after": 120}, "5 of 125 refusals without Retry-After"),
        ({"refusal_p99_ms": 140.0}, "refusal p99 140 ms >= 100 ms"),
        ({"timeouts": 2}, "2 timeouts (504 or no answer)"),
        ({"server_errors": {"500": 1}}, "server errors: 500 x1"),
    ],
)
def test_excess_that_is_not_refused_cleanly_fails_naming_the_step(changes: dict, reason: str):
    ramp = [*RAMP[:-1], replace(overloaded(800), **changes)]

    verdict = by_name(ramp)["excess_refused_cleanly"]

    assert (verdict.status, verdict.detail) == ("fail", f"800/min: {reason}")


def test_refusal_latency_is_judged_only_where_the_load_exceeded_a_limit() -> None:
    # A slow refusal of an abusive client below the limits is its step's p99 by itself.
    quiet = step(100, refusals=25, refusals_with_retry_after=25, refusal_p99_ms=150.0)

    verdict = by_name([quiet])["excess_refused_cleanly"]

    assert verdict.status == "pass"
    assert verdict.detail.endswith("no step exceeded the limits (latency not judged)")
    assert by_name(RAMP)["excess_refused_cleanly"].detail == (
        "125 refusals, all with Retry-After; refusal p99 beyond the limits at most 12 ms (800/min)"
    )


def test_abusive_clients_that_are_not_limited_fail_the_abuse_verdict() -> None:
    lenient = step(100, abusive_refused=3, abusive_answered=27, abusive_clients_refused=1)

    verdict = by_name([step(50), lenient])["abusive_limited_ordinary_answered"]

    assert verdict.status == "fail"
    assert verdict.detail.startswith("abusive clients not limited: 100/min: abusive refused 10%")


def test_ordinary_clients_refused_along_with_abusive_ones_fail_the_abuse_verdict() -> None:
    collateral = step(100, status_counts={"200": 25, "429": 25}, error_counts={"rate_limited": 25})

    verdict = by_name([collateral])["abusive_limited_ordinary_answered"]

    assert verdict.status == "fail"
    assert "ordinary clients not answered (rate_limited x25)" in verdict.detail
    assert verdict.detail.endswith(
        "does the service trust X-Forwarded-For (CHATBOT_TRUSTED_PROXY_HOPS=1)?"
    )


def test_upstream_throttles_are_counted_with_those_that_still_failed() -> None:
    ramp = [step(100, upstream_throttled_attempts=4), step(200, upstream_throttled_attempts=6,
            error_counts={"model_throttled": 1})]  # fmt: skip

    verdict = by_name(ramp)["upstream_throttles_absorbed"]

    assert verdict.status == "info"
    assert verdict.detail.startswith("10 throttled model calls; 1 questions still refused")


def test_throttles_are_not_evaluated_when_the_service_hides_its_metrics() -> None:
    verdict = by_name([step(100, upstream_throttled_attempts=None)])["upstream_throttles_absorbed"]

    assert verdict.status == "not_evaluated"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"achieved_per_minute": 700.0}, "800/min sent at 700/min"),
        ({"schedule_lag_p95_ms": 180.0}, "800/min sent 180 ms late (p95)"),
    ],
)
def test_a_driver_that_fell_behind_fails_its_own_verdict(changes: dict, reason: str) -> None:
    verdict = by_name([step(100), step(800, **changes)])["generator_kept_up"]

    assert verdict.status == "fail"
    assert reason in verdict.detail


def test_thresholds_come_from_the_settings() -> None:
    strict = LoadTestSettings(slo_p95_seconds=1.0, refusal_p99_ms=10)

    verdicts = by_name(RAMP, strict)

    assert verdicts["slo_at_100_per_min"].status == "fail"
    assert verdicts["excess_refused_cleanly"].detail == "800/min: refusal p99 12 ms >= 10 ms"
    assert knee(RAMP, strict) is None
