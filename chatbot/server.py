"""How the service is served: uvicorn with slow-client deadlines, and the separate metrics port.

`ccseg chatbot serve` and the tests build the server here, so the tests exercise the same
protocol, timeouts and header policy as production.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

import uvicorn
from fastapi import FastAPI
from prometheus_client import start_http_server

from chatbot.observability import ChatMetrics
from chatbot.settings import ChatbotSettings
from chatbot.slow_clients import guarded_protocol


def uvicorn_config(app: FastAPI, settings: ChatbotSettings, **overrides: Any) -> uvicorn.Config:
    """One process, our own access log and proxy-header policy, slow clients cut off."""
    metrics: ChatMetrics = app.state.metrics
    protocol = guarded_protocol(
        settings.header_read_timeout_seconds,
        settings.body_read_timeout_seconds,
        lambda phase: metrics.slow_clients.labels(phase).inc(),
    )
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": protocol,
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "log_config": None,
        "access_log": False,
        # X-Forwarded-For is honoured by the app only per CHATBOT_TRUSTED_PROXY_HOPS.
        "proxy_headers": False,
        "server_header": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
    }
    return uvicorn.Config(app, **{**options, **overrides})


@dataclass
class MetricsServer:
    """Prometheus' own exporter thread on the metrics port, away from the public listener."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.server_port

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(settings: ChatbotSettings, metrics: ChatMetrics) -> MetricsServer:
    server, thread = start_http_server(
        settings.metrics_port, addr=settings.metrics_host, registry=metrics.registry
    )
    return MetricsServer(server, thread)
