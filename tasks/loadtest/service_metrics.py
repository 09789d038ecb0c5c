"""What the service's own Prometheus metrics say about a step: upstream throttles, fallback, cache.

`/metrics` is scraped before and after each step and the counters are subtracted. A service
that keeps `/metrics` off its public address, or that lacks a counter, yields None for that
figure: the load test reports "not reported", it does not guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

METRICS_PATH = "/metrics"
# The chat service's counters (chatbot/observability.py); `_total` is the exposition's suffix.
UPSTREAM_CALLS = "chatbot_upstream_calls_total"
THROTTLES = "chatbot_throttles_total"

Sample = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class MetricsDelta:
    """Counter increases over one step; None where the service exposes no such counter."""

    upstream_throttled_attempts: float | None
    upstream_attempts: float | None
    fallback_events: float | None
    cache_hits: float | None
    cache_misses: float | None
    throttles_by_source: dict[str, float]


def parse_counters(text: str) -> dict[Sample, float]:
    """Every counter sample of a Prometheus text exposition, keyed by name and sorted labels."""
    counters: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        if family.type != "counter":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                counters[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return counters


def scrape(client: httpx.Client) -> dict[Sample, float] | None:
    """The service's counters now, or None when `/metrics` is not there or not Prometheus."""
    try:
        response = client.get(METRICS_PATH)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return parse_counters(response.text)
    except ValueError:
        return None


def _sum(counters: dict[Sample, float], match) -> float | None:
    found = [value for key, value in counters.items() if match(*key)]
    return sum(found) if found else None


def _labels_mention(labels: tuple[tuple[str, str], ...], word: str) -> bool:
    return any(word in value.lower() for _, value in labels)


def summarize_counters(counters: dict[Sample, float]) -> MetricsDelta:
    """The load test's figures from a set of counter values (or their increases)."""
    return MetricsDelta(
        upstream_throttled_attempts=_sum(
            counters, lambda n, labels: n == UPSTREAM_CALLS and ("outcome", "throttled") in labels
        ),
        upstream_attempts=_sum(counters, lambda n, labels: n == UPSTREAM_CALLS),
        # Named by what they count, whatever the exact metric: uses of a fallback model, and
        # a response cache's hits and misses (as separate counters or as a label value).
        fallback_events=_sum(counters, lambda n, labels: "fallback" in n),
        cache_hits=_sum(
            counters,
            lambda n, labels: "cache" in n and ("hit" in n or _labels_mention(labels, "hit")),
        ),
        cache_misses=_sum(
            counters,
            lambda n, labels: "cache" in n and ("miss" in n or _labels_mention(labels, "miss")),
        ),
        throttles_by_source={
            dict(labels).get("source", ""): value
            for (name, labels), value in counters.items()
            if name == THROTTLES
        },
    )


def counter_increase(
    before: dict[Sample, float] | None, after: dict[Sample, float] | None
) -> MetricsDelta | None:
    """What the counters gained between two scrapes (a counter new in `after` started at 0)."""
    if before is None or after is None:
        return None
    return summarize_counters({key: value - before.get(key, 0.0) for key, value in after.items()})
