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
# The chat service's counter families (chatbot/observability.py); samples add `_total`.
UPSTREAM_CALLS = "chatbot_upstream_calls"
THROTTLES = "chatbot_throttles"
CACHE_LOOKUPS = "chatbot_answer_cache_lookups"  # label result: hit, miss, error
FALLBACKS = "chatbot_model_fallbacks"  # label reason

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Counters:
    """One scrape: each counter family's samples by labels, families without samples included.

    A family present without samples counted nothing yet (0); an absent one is not known.
    """

    values: dict[str, dict[Labels, float]]

    def total(self, family_matches, sample_matches=lambda family, labels: True) -> float | None:
        """Sum of the matching samples of the matching families; None if no family matches."""
        families = [name for name in self.values if family_matches(name)]
        if not families:
            return None
        return sum(
            value
            for name in families
            for labels, value in self.values[name].items()
            if sample_matches(name, labels)
        )


@dataclass(frozen=True)
class MetricsDelta:
    """Counter increases over one step; None where the service exposes no such counter."""

    upstream_throttled_attempts: float | None
    upstream_attempts: float | None
    fallback_events: float | None
    cache_hits: float | None
    cache_misses: float | None
    throttles_by_source: dict[str, float]


def parse_counters(text: str) -> Counters:
    """Every counter family of a Prometheus text exposition, samples keyed by sorted labels."""
    values: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            values[family.name] = {
                tuple(sorted(sample.labels.items())): sample.value
                for sample in family.samples
                if sample.name.endswith("_total")
            }
    return Counters(values)


def scrape(client: httpx.Client) -> Counters | None:
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


def summarize_counters(counters: Counters) -> MetricsDelta:
    """The load test's figures from a set of counter values (or their increases)."""
    throttles = counters.values.get(THROTTLES, {})
    return MetricsDelta(
        upstream_throttled_attempts=counters.total(
            lambda name: name == UPSTREAM_CALLS,
            lambda name, labels: ("outcome", "throttled") in labels,
        ),
        upstream_attempts=counters.total(lambda name: name == UPSTREAM_CALLS),
        fallback_events=counters.total(lambda name: name == FALLBACKS),
        cache_hits=counters.total(
            lambda name: name == CACHE_LOOKUPS, lambda name, labels: ("result", "hit") in labels
        ),
        cache_misses=counters.total(
            lambda name: name == CACHE_LOOKUPS, lambda name, labels: ("result", "miss") in labels
        ),
        throttles_by_source={dict(labels).get("source", ""): v for labels, v in throttles.items()},
    )


def counter_increase(before: Counters | None, after: Counters | None) -> MetricsDelta | None:
    """What the counters gained between two scrapes (a sample new in `after` started at 0)."""
    if before is None or after is None:
        return None
    increases = {
        name: {
            labels: value - before.values.get(name, {}).get(labels, 0.0)
            for labels, value in samples.items()
        }
        for name, samples in after.values.items()
    }
    return summarize_counters(Counters(increases))
