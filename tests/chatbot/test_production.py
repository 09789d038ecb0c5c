"""Production mode: one switch hides the schema and metrics, drops Server-Timing, needs tokens."""

from __future__ import annotations

import httpx
import pytest

from chatbot.settings import SettingsError, load_settings

PRODUCTION = {"production": True, "metrics_port": 0, "require_token": False}


def test_production_hides_metrics_and_the_schema_from_the_public_port(fake, start, api):
    service = start(**PRODUCTION)
    api.assert_error_shape(httpx.get(f"{service.base_url}/metrics"), 404, "not_found")
    api.assert_error_shape(httpx.get(f"{service.base_url}/openapi.json"), 404, "not_found")
    assert api.post_chat(service, api.chat_body()).status_code == 200
    # Metrics move to their own listener, for the scraper only.
    metrics_port = service.app.state.metrics_server.port
    assert metrics_port != int(service.base_url.rsplit(":", 1)[1])
    scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    assert 'chatbot_upstream_calls_total{operation="Converse",outcome="ok"} 1.0' in scraped


def test_production_sends_no_server_timing(fake, start, api):
    service = start(**PRODUCTION, expose_server_timing=True)
    response = api.post_chat(service, api.chat_body())
    assert response.status_code == 200
    assert "server-timing" not in response.headers


def test_production_requires_a_token_whatever_require_token_says(fake, start, api):
    service = start(**PRODUCTION)
    response = httpx.post(
        f"{service.base_url}/api/chat", json=api.chat_body(), headers={"Origin": api.origin}
    )
    api.assert_error_shape(response, 401, "unauthorized")
    assert fake.stats.total_calls == 0


def test_outside_production_the_schema_and_metrics_stay_on_the_main_port(client):
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"production": True, "cors_allow_origins": ["https://www.example.com"]}, "SIGNING_KEY"),
        ({"production": True, "token_signing_key": "k" * 40}, "CORS_ALLOW_ORIGINS"),
        (
            {
                "production": True,
                "token_signing_key": "k" * 40,
                "cors_allow_origins": ["https://www.example.com"],
                "metrics_port": 8080,
            },
            "METRICS_PORT",
        ),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(monkeypatch, overrides, variable):
    for name in ("CHATBOT_TOKEN_SIGNING_KEY", "CHATBOT_CORS_ALLOW_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError, match=variable):
        load_settings(**overrides)
