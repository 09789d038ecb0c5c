"""One step's figures: rates, latency percentiles, answers by status and error code, refusals.

Latency percentiles are over every ordinary request, whatever its answer (a refusal is fast, a
timeout counts as the time it took), measured from its scheduled send time. Refusal figures
(429 and 503) cover abusive clients too: every refusal must be fast and carry Retry-After.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tasks.loadtest.driver import RequestOutcome
from tasks.loadtest.service_metrics import MetricsDelta

PERCENTILES = (50, 90, 95, 99)
REFUSAL_STATUSES = (429, 503)
NO_ANSWER = "no_answer"
# What the chat contract calls running out of time: its own 504, or no answer at all.
TIMEOUT_STATUS = 504


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


@dataclass(frozen=True)
class StepSummary:
    """What one step offered and how the service answered it."""

    index: int
    offered_per_minute: float
    window_seconds: float
    sent: int  # ordinary requests
    achieved_per_minute: float  # how fast the driver actually sent them
    answered_per_minute: float  # 200 answers per minute of the window
    latency_ms: dict[str, float | None]  # p50, p90, p95, p99, max of ordinary requests
    answered_p95_ms: float | None
    status_counts: dict[str, int]  # ordinary requests by status ("no_answer": no HTTP answer)
    error_counts: dict[str, int]  # ordinary requests by error code or transport failure
    refusals: int  # 429 and 503, abusive clients included
    refusals_with_retry_after: int
    refusal_p99_ms: float | None
    timeouts: int  # 504 or no answer, abusive clients included
    server_errors: dict[str, int]  # 5xx other than 503, abusive clients included
    cache_hit_rate: float | None
    cache_source: str | None  # "headers", "metrics" or None when the service does not say
    upstream_p50_ms: float | None  # the model's time, from Server-Timing
    schedule_lag_p95_ms: float | None  # how late requests left: high means the driver lagged
    abusive_sent: int = 0
    abusive_answered: int = 0
    abusive_refused: int = 0
    abusive_clients_refused: int = 0  # abusive sessions that got at least one refusal
    abusive_clients: int = 0
    upstream_throttled_attempts: float | None = None
    fallback_events: float | None = None
    throttles_by_source: dict[str, float] = field(default_factory=dict)
    token_mode: str = "none"
    tokens_fetched: int = 0
    tokens_renewed: int = 0

    @property
    def answered_share(self) -> float:
        return self.status_counts.get("200", 0) / self.sent if self.sent else 0.0

    @property
    def retry_after_share(self) -> float | None:
        return self.refusals_with_retry_after / self.refusals if self.refusals else None


def _ms(seconds: Sequence[float]) -> list[float]:
    return [value * 1000 for value in seconds]


def _cache_rate(
    outcomes: Sequence[RequestOutcome], metrics: MetricsDelta | None
) -> tuple[float | None, str | None]:
    states = Counter(outcome.cache for outcome in outcomes if outcome.cache)
    if states:
        return states["hit"] / (states["hit"] + states["miss"]), "headers"
    if metrics and metrics.cache_hits is not None and metrics.cache_misses is not None:
        lookups = metrics.cache_hits + metrics.cache_misses
        return (metrics.cache_hits / lookups if lookups else None), "metrics"
    return None, None


def summarize_step(
    index: int,
    offered_per_minute: float,
    window_seconds: float,
    outcomes: Sequence[RequestOutcome],
    metrics: MetricsDelta | None = None,
    token_mode: str = "none",
    tokens_fetched: int = 0,
    tokens_renewed: int = 0,
) -> StepSummary:
    """The step's figures from its outcomes and the service's counters over the step."""
    ordinary = [outcome for outcome in outcomes if not outcome.abusive]
    abusive = [outcome for outcome in outcomes if outcome.abusive]
    latencies = _ms([outcome.latency_seconds for outcome in ordinary])
    answered = [outcome for outcome in ordinary if outcome.status == 200]
    refused = [outcome for outcome in outcomes if outcome.status in REFUSAL_STATUSES]
    last_send = max((outcome.sent_at for outcome in ordinary), default=0.0)
    statuses = Counter(str(o.status) if o.status else NO_ANSWER for o in ordinary)
    cache_hit_rate, cache_source = _cache_rate(answered, metrics)
    upstream = [outcome.upstream_ms for outcome in answered if outcome.upstream_ms is not None]
    return StepSummary(
        index=index,
        offered_per_minute=offered_per_minute,
        window_seconds=window_seconds,
        sent=len(ordinary),
        achieved_per_minute=len(ordinary) / max(window_seconds, last_send) * 60
        if ordinary
        else 0.0,
        answered_per_minute=len(answered) / window_seconds * 60,
        latency_ms={
            **{f"p{q}": percentile(latencies, q) for q in PERCENTILES},
            "max": max(latencies, default=None),
        },
        answered_p95_ms=percentile(_ms([o.latency_seconds for o in answered]), 95),
        status_counts=dict(sorted(statuses.items())),
        error_counts=dict(Counter(o.error for o in ordinary if o.error).most_common()),
        refusals=len(refused),
        refusals_with_retry_after=sum(1 for o in refused if o.retry_after is not None),
        refusal_p99_ms=percentile(_ms([o.latency_seconds for o in refused]), 99),
        timeouts=sum(1 for o in outcomes if o.status in (None, TIMEOUT_STATUS)),
        server_errors=dict(
            Counter(
                str(o.status)
                for o in outcomes
                if o.status and o.status >= 500 and o.status not in (503, TIMEOUT_STATUS)
            )
        ),
        cache_hit_rate=cache_hit_rate,
        cache_source=cache_source,
        upstream_p50_ms=percentile(upstream, 50),
        schedule_lag_p95_ms=percentile(
            [max(0.0, o.sent_at - o.scheduled_at) * 1000 for o in outcomes], 95
        ),
        abusive_sent=len(abusive),
        abusive_answered=sum(1 for o in abusive if o.status == 200),
        abusive_refused=sum(1 for o in abusive if o.status == 429),
        abusive_clients_refused=len({o.session_id for o in abusive if o.status == 429}),
        abusive_clients=len({o.session_id for o in abusive}),
        upstream_throttled_attempts=metrics.upstream_throttled_attempts if metrics else None,
        fallback_events=metrics.fallback_events if metrics else None,
        throttles_by_source=dict(metrics.throttles_by_source) if metrics else {},
        token_mode=token_mode,
        tokens_fetched=tokens_fetched,
        tokens_renewed=tokens_renewed,
    )
