"""The service's counters: read from its real Prometheus exposition, subtracted across a step."""

from __future__ import annotations

import httpx
from prometheus_client import generate_latest

from chatbot.observability import ChatMetrics
from tasks.loadtest.service_metrics import counter_increase, parse_counters, scrape


def exposition(metrics: ChatMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_throttles_attempts_cache_and_fallbacks_are_read_from_the_services_own_metrics() -> None:
    metrics = ChatMetrics()
    metrics.upstream_calls.labels("Converse", "ok").inc(5)
    metrics.cache_lookups.labels("hit").inc(1)
    before = parse_counters(exposition(metrics))
    metrics.upstream_calls.labels("Converse", "throttled").inc(3)
    metrics.upstream_calls.labels("Converse", "ok").inc(7)
    metrics.throttles.labels("upstream").inc(3)
    metrics.throttles.labels("session").inc(2)
    metrics.cache_lookups.labels("hit").inc(6)
    metrics.cache_lookups.labels("miss").inc(2)
    metrics.cache_lookups.labels("error").inc(1)
    metrics.fallbacks.labels("primary_failed").inc(4)

    delta = counter_increase(before, parse_counters(exposition(metrics)))

    assert delta is not None
    assert (delta.upstream_throttled_attempts, delta.upstream_attempts) == (3, 10)
    assert delta.throttles_by_source == {"upstream": 3, "session": 2}
    assert (delta.cache_hits, delta.cache_misses, delta.fallback_events) == (6, 2, 4)


def test_a_service_without_cache_or_fallback_counters_reports_none_rather_than_zero() -> None:
    bare = parse_counters(
        "# TYPE chatbot_upstream_calls counter\n"
        'chatbot_upstream_calls_total{operation="Converse",outcome="ok"} 4.0\n'
    )

    delta = counter_increase(bare, bare)

    assert delta is not None
    assert delta.upstream_attempts == 0
    assert (delta.cache_hits, delta.cache_misses, delta.fallback_events) == (None, None, None)


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
