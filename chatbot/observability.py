"""Structured JSON logs (no message contents unless asked) and the service's Prometheus metrics."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Chosen around the 2 s budget, so the histogram answers "how many within 2 s" exactly.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    """Route every logger (ours and uvicorn's) to stdout as JSON; called once per process."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our own access log replaces uvicorn's, which would duplicate it without the request id.
    logging.getLogger("uvicorn.access").disabled = True


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})


def pseudonymize(value: str) -> str:
    """A short stable digest, so logs can correlate a session without storing its id."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


class ChatMetrics:
    """The service's Prometheus metrics, in a registry of their own (one per app instance)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "chatbot_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "chatbot_http_request_duration_seconds",
            "Time to the end of the response, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_calls = Counter(
            "chatbot_upstream_calls",
            "Calls to Bedrock, one per attempt, by operation and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.upstream_seconds = Histogram(
            "chatbot_upstream_duration_seconds",
            "Bedrock time per attempt (to the first token for streams), by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.throttles = Counter(
            "chatbot_throttles",
            "Requests refused or slowed by a limit, by source (ip, session, ip_tokens, "
            "session_tokens, session_grant, global_requests, global_tokens, daily_budget, "
            "concurrency, circuit_open, upstream).",
            ["source"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "chatbot_model_tokens",
            "Tokens Bedrock reported, by direction (input or output).",
            ["direction"],
            registry=self.registry,
        )
        self.upstream_in_flight = Gauge(
            "chatbot_upstream_in_flight",
            "Bedrock calls holding a pool connection right now.",
            registry=self.registry,
        )
        self.circuit_open = Gauge(
            "chatbot_circuit_open",
            "1 while the circuit breaker fails requests fast, else 0.",
            registry=self.registry,
        )
        self.phase_seconds = Histogram(
            "chatbot_request_phase_seconds",
            "Where a chat request's time went: body_read (receiving the body), admission "
            "(token, limits, prompt, cache), upstream (Bedrock, retries and fallback included).",
            ["phase"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.slow_clients = Counter(
            "chatbot_slow_client_disconnects",
            "Connections closed because headers or body did not arrive in time, by phase.",
            ["phase"],
            registry=self.registry,
        )
        self.cache_lookups = Counter(
            "chatbot_answer_cache_lookups",
            "Response cache lookups, by result (hit, miss, error).",
            ["result"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "chatbot_model_fallbacks",
            "Questions sent to the fallback model, by reason (primary_failed, primary_cooling).",
            ["reason"],
            registry=self.registry,
        )
        self.daily_tokens_used = Gauge(
            "chatbot_daily_budget_tokens_used",
            "Tokens charged to today's (UTC) service-wide budget, as last seen by this process.",
            registry=self.registry,
        )
        self.daily_tokens_limit = Gauge(
            "chatbot_daily_budget_tokens_limit",
            "The service-wide daily token budget.",
            registry=self.registry,
        )
        self.sessions_issued = Counter(
            "chatbot_session_tokens_issued",
            "Session tokens issued to the widget.",
            registry=self.registry,
        )
