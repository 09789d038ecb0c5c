"""Summary of a load-test run: status counts, latency percentiles, budget share, achieved rate."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tasks.loadtest.driver import CHAT_PATH, RequestOutcome

STATUS_BUCKETS = ("200", "429", "503", "504", "other")


@dataclass(frozen=True)
class LoadTestSummary:
    """What the run did and how the service answered; latencies are of 200 answers only."""

    base_url: str
    target_requests_per_minute: float
    planned: int
    sent: int
    status_counts: dict[str, int]  # "200", "429", "503", "504", "other"
    other_statuses: dict[int, int]
    transport_errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    budget_seconds: float
    within_budget_share: float | None  # share of sent requests answered 200 within budget
    retry_after_on_429: int  # 429 answers that carried Retry-After
    retry_after_on_503: int
    achieved_requests_per_minute: float
    schedule_lag_p99_ms: float | None  # how late requests left: high means the driver lagged
    error_samples: list[str] = field(default_factory=list)

    @property
    def retry_after_always_present(self) -> bool:
        """Every 429 and 503 told the client when to come back, as the chat contract requires."""
        counts = self.status_counts
        return (self.retry_after_on_429, self.retry_after_on_503) == (counts["429"], counts["503"])


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, numpy's default method."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _bucket(status: int) -> str:
    return str(status) if str(status) in STATUS_BUCKETS else "other"


def summarize(
    outcomes: Sequence[RequestOutcome],
    base_url: str,
    target_requests_per_minute: float,
    planned: int,
    budget_seconds: float = 2.0,
) -> LoadTestSummary:
    """Counts per status bucket, 200 latency percentiles, budget share and achieved rate."""
    answered = [outcome for outcome in outcomes if outcome.status is not None]
    statuses = [outcome.status for outcome in answered if outcome.status is not None]
    buckets = Counter(_bucket(status) for status in statuses)
    others = Counter(status for status in statuses if _bucket(status) == "other")
    ok_ms = [outcome.latency_seconds * 1000 for outcome in answered if outcome.status == 200]

    def with_retry_after(status: int) -> int:
        return sum(1 for o in answered if o.status == status and o.retry_after is not None)

    sent = len(outcomes)
    within = sum(1 for latency in ok_ms if latency <= budget_seconds * 1000)
    send_times = [outcome.sent_at for outcome in outcomes]
    # n arrivals span n-1 gaps; the rate is arrivals per unit of sending time.
    span = max(send_times) - min(send_times) if sent > 1 else 0.0
    achieved = (sent - 1) / span * 60 if span > 0 else 0.0
    lags = [max(0.0, outcome.sent_at - outcome.scheduled_at) * 1000 for outcome in outcomes]
    errors = Counter(outcome.error for outcome in outcomes if outcome.error)
    return LoadTestSummary(
        base_url=base_url,
        target_requests_per_minute=target_requests_per_minute,
        planned=planned,
        sent=sent,
        status_counts={bucket: buckets.get(bucket, 0) for bucket in STATUS_BUCKETS},
        other_statuses=dict(sorted(others.items())),
        transport_errors=sent - len(answered),
        latency_p50_ms=percentile(ok_ms, 50),
        latency_p95_ms=percentile(ok_ms, 95),
        latency_p99_ms=percentile(ok_ms, 99),
        budget_seconds=budget_seconds,
        within_budget_share=within / sent if sent else None,
        retry_after_on_429=with_retry_after(429),
        retry_after_on_503=with_retry_after(503),
        achieved_requests_per_minute=achieved,
        schedule_lag_p99_ms=percentile(lags, 99),
        error_samples=[f"{name} x{count}" for name, count in errors.most_common(5)],
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def render_markdown(summary: LoadTestSummary) -> str:
    """The summary as a Markdown table, for the Prefect artifact and the log."""
    share = "-" if summary.within_budget_share is None else f"{summary.within_budget_share:.1%}"
    rows = [
        ("target", f"{summary.base_url}{CHAT_PATH}"),
        ("planned / sent", f"{summary.planned} / {summary.sent}"),
        (
            "rate (target / achieved)",
            f"{summary.target_requests_per_minute:.0f} / "
            f"{summary.achieved_requests_per_minute:.0f} per minute",
        ),
        *((f"status {bucket}", str(count)) for bucket, count in summary.status_counts.items()),
        ("transport errors", str(summary.transport_errors)),
        (
            "200 latency p50 / p95 / p99",
            " / ".join(
                _ms(value)
                for value in (
                    summary.latency_p50_ms,
                    summary.latency_p95_ms,
                    summary.latency_p99_ms,
                )
            ),
        ),
        (f"answered 200 within {summary.budget_seconds:g} s", share),
        (
            "Retry-After on 429 / 503",
            f"{summary.retry_after_on_429} of {summary.status_counts['429']} / "
            f"{summary.retry_after_on_503} of {summary.status_counts['503']}",
        ),
        ("schedule lag p99", _ms(summary.schedule_lag_p99_ms)),
    ]
    if summary.other_statuses:
        others = ", ".join(f"{code}: {count}" for code, count in summary.other_statuses.items())
        rows.append(("other statuses", others))
    if summary.error_samples:
        rows.append(("transport error kinds", ", ".join(summary.error_samples)))
    lines = ["| measure | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(lines)
