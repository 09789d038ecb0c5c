"""Verdicts of a load test against the SLO and the limits, per step and overall, and the knee.

The SLO of a step: p95 below the threshold, no 5xx other than 503, no timeouts, and nearly every
ordinary question answered (a service that refuses everyone quickly does not meet an SLO).
The knee is the highest step meeting it. Beyond the limits, the excess must be refused cleanly:
429/503 with Retry-After, fast, never a timeout or a 500.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tasks.loadtest.settings import LoadTestSettings
from tasks.loadtest.summary import NO_ANSWER, StepSummary

VerdictStatus = Literal["pass", "fail", "info", "not_evaluated"]


@dataclass(frozen=True)
class Verdict:
    name: str
    status: VerdictStatus
    detail: str


def rate_label(rate: float) -> str:
    return f"{rate:g}/min"


def _top_errors(step: StepSummary, limit: int = 3) -> str:
    codes = list(step.error_counts.items())[:limit]
    return ", ".join(f"{code} x{count}" for code, count in codes) or "no error code"


def _per_client_hint(step: StepSummary) -> str:
    # Ordinary visitors ask a few questions per session and per address in a step, below any
    # per-client limit; refusing them per client means the service sees one client for all.
    if not step.error_counts.get("rate_limited"):
        return ""
    return (
        "; per-client limits refused ordinary visitors: does the service trust "
        "X-Forwarded-For (CHATBOT_TRUSTED_PROXY_HOPS=1)?"
    )


def slo_problems(step: StepSummary, settings: LoadTestSettings) -> list[str]:
    """Why this step misses the SLO (empty: it meets it)."""
    problems = []
    p95 = step.latency_ms["p95"]
    if p95 is None or p95 >= settings.slo_p95_seconds * 1000:
        shown = "-" if p95 is None else f"{p95:.0f} ms"
        problems.append(f"p95 {shown} >= {settings.slo_p95_seconds * 1000:.0f} ms")
    server_errors = {
        status: count
        for status, count in step.status_counts.items()
        if status.isdigit() and int(status) >= 500 and status != "503"
    }
    if server_errors:
        listed = ", ".join(f"{status} x{count}" for status, count in server_errors.items())
        problems.append(f"5xx other than 503: {listed}")
    if step.status_counts.get(NO_ANSWER):
        problems.append(f"no answer (timeout or transport error) x{step.status_counts[NO_ANSWER]}")
    if step.answered_share < settings.slo_min_answered_share:
        problems.append(
            f"answered {step.answered_share:.0%} < {settings.slo_min_answered_share:.0%} "
            f"({_top_errors(step)}){_per_client_hint(step)}"
        )
    return problems


def knee(steps: Sequence[StepSummary], settings: LoadTestSettings) -> float | None:
    """The highest offered rate whose step met the SLO."""
    meeting = [step.offered_per_minute for step in steps if not slo_problems(step, settings)]
    return max(meeting, default=None)


def _slo_step(steps: Sequence[StepSummary], settings: LoadTestSettings) -> StepSummary | None:
    return next(
        (s for s in steps if math.isclose(s.offered_per_minute, settings.slo_rate_per_minute)),
        None,
    )


def slo_verdict(steps: Sequence[StepSummary], settings: LoadTestSettings) -> Verdict:
    name = f"slo_at_{settings.slo_rate_per_minute:g}_per_min"
    step = _slo_step(steps, settings)
    if step is None:
        return Verdict(name, "not_evaluated", "no step at the SLO rate: add it to the rates")
    problems = slo_problems(step, settings)
    p95 = step.latency_ms["p95"]
    measured = f"p95 {p95:.0f} ms, answered {step.answered_share:.0%} of {step.sent}"
    if problems:
        return Verdict(
            name, "fail", f"{rate_label(step.offered_per_minute)}: {'; '.join(problems)}"
        )
    return Verdict(name, "pass", f"{rate_label(step.offered_per_minute)}: {measured}")


def beyond_limits(step: StepSummary) -> bool:
    """The step's ordinary load exceeded a limit: some ordinary questions were refused."""
    return any(step.status_counts.get(status, 0) for status in ("429", "503"))


def shedding_problems(step: StepSummary, settings: LoadTestSettings) -> list[str]:
    """How this step's refusals and failures break the contract for excess load.

    Every refusal must carry Retry-After and no step may time out or answer 500; the refusal
    latency is judged where the load exceeded a limit, where refusals are many and are the
    point (a handful of abusive-client refusals makes a p99 that is just their maximum).
    """
    problems = []
    missing = step.refusals - step.refusals_with_retry_after
    if missing:
        problems.append(f"{missing} of {step.refusals} refusals without Retry-After")
    p99 = step.refusal_p99_ms
    if beyond_limits(step) and p99 is not None and p99 >= settings.refusal_p99_ms:
        problems.append(f"refusal p99 {p99:.0f} ms >= {settings.refusal_p99_ms:.0f} ms")
    if step.timeouts:
        problems.append(f"{step.timeouts} timeouts (504 or no answer)")
    if step.server_errors:
        listed = ", ".join(f"{status} x{count}" for status, count in step.server_errors.items())
        problems.append(f"server errors: {listed}")
    return problems


def shedding_verdict(steps: Sequence[StepSummary], settings: LoadTestSettings) -> Verdict:
    name = "excess_refused_cleanly"
    problems = [
        f"{rate_label(step.offered_per_minute)}: {'; '.join(found)}"
        for step in steps
        if (found := shedding_problems(step, settings))
    ]
    if problems:
        return Verdict(name, "fail", " | ".join(problems))
    refusals = sum(step.refusals for step in steps)
    if not refusals:
        return Verdict(name, "not_evaluated", "nothing was refused: no step exceeded a limit")
    detail = f"{refusals} refusals, all with Retry-After"
    over = [step for step in steps if beyond_limits(step)]
    if not over:
        return Verdict(name, "pass", f"{detail}; no step exceeded the limits (latency not judged)")
    worst = max(over, key=lambda step: step.refusal_p99_ms or 0.0)
    return Verdict(
        name,
        "pass",
        f"{detail}; refusal p99 beyond the limits at most {worst.refusal_p99_ms or 0:.0f} ms "
        f"({rate_label(worst.offered_per_minute)})",
    )


def abuse_verdict(steps: Sequence[StepSummary], settings: LoadTestSettings) -> Verdict:
    name = "abusive_limited_ordinary_answered"
    step = _slo_step(steps, settings)
    if settings.abusive_clients == 0 or step is None or not step.abusive_sent:
        return Verdict(name, "not_evaluated", "no abusive clients at the SLO rate")
    refused_share = step.abusive_refused / step.abusive_sent
    measured = (
        f"{rate_label(step.offered_per_minute)}: abusive refused {refused_share:.0%} of "
        f"{step.abusive_sent} ({step.abusive_clients_refused} of {step.abusive_clients} clients), "
        f"ordinary answered {step.answered_share:.0%} of {step.sent}"
    )
    limited = (
        refused_share >= settings.abusive_min_refused_share
        and step.abusive_clients_refused == step.abusive_clients
    )
    answered = step.answered_share >= settings.slo_min_answered_share
    if limited and answered:
        return Verdict(name, "pass", measured)
    why = [] if limited else ["abusive clients not limited"]
    why += [] if answered else [f"ordinary clients not answered ({_top_errors(step)})"]
    measured += _per_client_hint(step)
    return Verdict(name, "fail", f"{'; '.join(why)}: {measured}")


def throttle_verdict(steps: Sequence[StepSummary]) -> Verdict:
    name = "upstream_throttles_absorbed"
    counted = [
        s.upstream_throttled_attempts for s in steps if s.upstream_throttled_attempts is not None
    ]
    if not counted:
        return Verdict(name, "not_evaluated", "the service's /metrics was not readable")
    failed = sum(step.error_counts.get("model_throttled", 0) for step in steps)
    fallback = [s.fallback_events for s in steps if s.fallback_events is not None]
    detail = (
        f"{sum(counted):.0f} throttled model calls; {failed} questions still refused as "
        f"model_throttled, the rest absorbed by retries"
        + (f" or the fallback ({sum(fallback):.0f} fallback events)" if fallback else "")
    )
    return Verdict(name, "info", detail)


def generator_verdict(steps: Sequence[StepSummary], settings: LoadTestSettings) -> Verdict:
    name = "generator_kept_up"
    behind = [
        f"{rate_label(step.offered_per_minute)} sent at {step.achieved_per_minute:.0f}/min"
        for step in steps
        if step.achieved_per_minute < settings.min_achieved_share * step.offered_per_minute
    ]
    behind += [
        f"{rate_label(step.offered_per_minute)} sent {step.schedule_lag_p95_ms:.0f} ms late (p95)"
        for step in steps
        if (step.schedule_lag_p95_ms or 0.0) > settings.max_schedule_lag_p95_ms
    ]
    if behind:
        return Verdict(
            name, "fail", "the driver fell behind (figures understate): " + ", ".join(behind)
        )
    return Verdict(
        name,
        "pass",
        f"every step sent at {settings.min_achieved_share:.0%} of its rate or more, "
        f"p95 within {settings.max_schedule_lag_p95_ms:.0f} ms of schedule",
    )


def judge(steps: Sequence[StepSummary], settings: LoadTestSettings) -> list[Verdict]:
    """Every verdict of the test, in the order an operator asks the questions."""
    found_knee = knee(steps, settings)
    knee_detail = (
        f"highest step meeting the SLO: {rate_label(found_knee)}"
        if found_knee is not None
        else "no step met the SLO"
    )
    return [
        slo_verdict(steps, settings),
        shedding_verdict(steps, settings),
        abuse_verdict(steps, settings),
        throttle_verdict(steps),
        Verdict("knee", "info", knee_detail),
        generator_verdict(steps, settings),
    ]
