"""The service's counters: read from its real Prometheus exposition, subtracted across a step."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import Counter, generate_latest

from chatbot.observability import ChatMetrics
from tasks.loadtest.service_metrics import counter_increase, parse_counters, scrape


def exposition(metrics: ChatMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_throttles_and_attempts_are_read_from_the_chat_services_own_metrics() -> None:
    metrics = ChatMetrics()
    metrics.upstream_calls.labels("Converse", "ok").inc(5)
    before = parse_counters(exposition(metrics))
    metrics.upstream_calls.labels("Converse", "throttled").inc(3)
    metrics.upstream_calls.labels("Converse", "ok").inc(7)
    metrics.throttles.labels("upstream").inc(3)
    metrics.throttles.labels("session").inc(2)

    delta = counter_increase(before, parse_counters(exposition(metrics)))

    assert delta is not None
    assert (delta.upstream_throttled_attempts, delta.upstream_attempts) == (3, 10)
    assert delta.throttles_by_source == {"upstream": 3, "session": 2}
    # This service has no cache and no fallback: not reported, rather than zero.
    assert (delta.cache_hits, delta.cache_misses, delta.fallback_events) == (None, None, None)


@pytest.mark.parametrize(
    ("hits_name", "misses_name", "labelled"),
    [("chatbot_cache_hits", "chatbot_cache_misses", False), ("chatbot_cache_lookups", None, True)],
)
def test_cache_and_fallback_counters_are_found_by_what_they_count(
    hits_name: str, misses_name: str | None, labelled: bool
) -> None:
    metrics = ChatMetrics()
    before = parse_counters(exposition(metrics))
    if labelled:
        lookups = Counter(hits_name, "Cache lookups.", ["result"], registry=metrics.registry)
        lookups.labels("hit").inc(6)
        lookups.labels("miss").inc(2)
    else:
        Counter(hits_name, "Hits.", registry=metrics.registry).inc(6)
        Counter(misses_name, "Misses.", registry=metrics.registry).inc(2)
    Counter("chatbot_fallback_answers", "Fallback.", registry=metrics.registry).inc(4)

    delta = counter_increase(before, parse_counters(exposition(metrics)))

    assert delta is not None
    assert (delta.cache_hits, delta.cache_misses, delta.fallback_events) == (6, 2, 4)


def test_a_counter_without_samples_yet_counts_zero_rather_than_unknown() -> None:
    fresh = parse_counters(exposition(ChatMetrics()))  # no question asked yet

    delta = counter_increase(fresh, fresh)

    assert delta is not None
    assert (delta.upstream_throttled_attempts, delta.upstream_attempts) == (0, 0)
    assert delta.throttles_by_source == {}


def test_no_increase_is_known_without_both_scrapes() -> None:
    empty = parse_counters("")
    assert counter_increase(None, empty) is None
    assert counter_increase(empty, None) is None


def test_a_service_without_metrics_yields_none() -> None:
    def no_metrics(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": "not_found"})

    with httpx.Client(transport=httpx.MockTransport(no_metrics), base_url="http://t") as client:
        assert scrape(client) is None
