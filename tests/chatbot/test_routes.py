"""The HTTP contract: chat, server-sent events, liveness, readiness, metrics and the schema."""

from __future__ import annotations

import logging

import httpx
import pytest

from chatbot.fake_bedrock import FakeBedrockConfig, Fault


def stream(client, body) -> httpx.Response:
    response = client.post("/api/chat/stream", json=body)
    return response


def test_chat_answers_with_answer_and_request_id_only(client, api):
    response = client.post("/api/chat", json=api.chat_body())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"answer", "request_id"}
    assert response.headers["server-timing"].startswith("upstream;dur=")


def test_stream_yields_deltas_in_order_then_done_and_ends(fake, client, api):
    body = api.chat_body("How are cash advances charged?")
    response = stream(client, body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = api.sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"} and len(kinds) > 3
    text = "".join(data["text"] for kind, data in events if kind == "delta")
    page = body["page"]
    assert text == api.fake_answer(body["message"], page["title"], page["url"])
    assert events[-1][1] == {
        "request_id": response.headers["x-request-id"],
        "stop_reason": "end_turn",
    }
    assert fake.stats.calls == {"ConverseStream": 1}


def test_stream_and_plain_chat_give_the_same_answer(client, api):
    body = api.chat_body("Same answer both ways?")
    plain = client.post("/api/chat", json=body).json()["answer"]
    events = api.sse_events(stream(client, body).text)
    assert "".join(data["text"] for kind, data in events if kind == "delta") == plain


def test_stream_error_before_the_first_token_is_a_plain_json_error(fake, client, api):
    fake.set_faults(Fault("throttling", times=None))
    response = stream(client, api.chat_body())
    api.assert_error_shape(response, 503, "model_throttled")
    assert int(response.headers["retry-after"]) >= 1


def test_stream_error_after_the_first_token_ends_with_an_error_event(fake, client, api):
    fake.set_faults(Fault("internal", mid_stream=True, operations=frozenset({"ConverseStream"})))
    response = stream(client, api.chat_body())
    assert response.status_code == 200
    events = api.sse_events(response.text)
    assert events[0][0] == "delta"
    kind, data = events[-1]
    assert kind == "error"
    assert set(data) == {"error", "message", "request_id"}
    assert data["error"] == "model_unavailable"
    assert "done" not in [kind for kind, _ in events]


def test_stream_first_token_deadline_gives_504(fake, start, api):
    service = start(deadline_seconds=0.4, min_attempt_seconds=0.1, read_timeout_seconds=0.6)
    fake.set_faults(Fault("stall", times=None, delay_seconds=1.5))
    response = api.post_chat(service, api.chat_body(), "/api/chat/stream")
    api.assert_error_shape(response, 504, "deadline_exceeded")


def test_slow_tokens_after_the_first_still_stream_past_the_deadline(fake, start, api):
    # The deadline bounds the wait for the first token; the rest of the answer may take longer.
    fake.set_config(FakeBedrockConfig(stream_token_delay_ms=60))
    service = start(deadline_seconds=0.3, min_attempt_seconds=0.1)
    response = api.post_chat(service, api.chat_body(), "/api/chat/stream")
    events = api.sse_events(response.text)
    assert events[-1][0] == "done"


def test_a_stalled_stream_ends_as_deadline_exceeded_and_is_logged_as_an_upstream_failure(
    fake, start, api, caplog
):
    # Finding 5: a 3 s silence after the first token was reported as a malformed answer,
    # logged as answered, with no failure line.
    caplog.set_level(logging.INFO, logger="chatbot")
    service = start(read_timeout_seconds=0.5)
    fake.set_faults(Fault("stall", mid_stream=True, delay_seconds=3.0))
    response = api.post_chat(service, api.chat_body(), "/api/chat/stream")
    events = api.sse_events(response.text)
    assert events[0][0] == "delta"
    kind, data = events[-1]
    assert kind == "error" and data["error"] == "deadline_exceeded"
    request_id = response.headers["x-request-id"]
    [failure] = [r for r in caplog.records if r.getMessage() == "upstream_failure"]
    assert failure.fields["request_id"] == request_id
    assert failure.fields["outcome"] == "read_timeout"
    assert failure.fields["aws_request_id"]  # Bedrock's id: what AWS support asks for
    assert failure.fields["aws_request_id"] not in response.text + str(response.headers)
    assert not [r for r in caplog.records if r.getMessage() == "chat_answered"]
    registry = service.app.state.metrics.registry
    outcome = {"operation": "ConverseStream", "outcome": "read_timeout"}
    assert registry.get_sample_value("chatbot_upstream_calls_total", outcome) == 1


def test_every_upstream_failure_line_carries_both_request_ids(fake, start, api, caplog):
    caplog.set_level(logging.WARNING, logger="chatbot")
    service = start(max_attempts=2)
    fake.set_faults(Fault("throttling", times=2))
    response = api.post_chat(service, api.chat_body())
    api.assert_error_shape(response, 503, "model_throttled")
    failures = [r for r in caplog.records if r.getMessage() == "upstream_failure"]
    assert len(failures) == 2
    aws_ids = {record.fields["aws_request_id"] for record in failures}
    assert {record.fields["request_id"] for record in failures} == {
        response.headers["x-request-id"]
    }
    assert len(aws_ids) == 2 and None not in aws_ids  # one per call, each its own
    assert not any(aws_id in response.text for aws_id in aws_ids)


def test_metrics_say_where_a_requests_time_went(fake, start, api):
    service = start()
    headers = api.auth_headers(service, "session-0001")  # its own POST has a body to read too
    registry = service.app.state.metrics.registry

    def counts() -> list[float | None]:
        return [
            registry.get_sample_value("chatbot_request_phase_seconds_count", {"phase": phase})
            for phase in ("body_read", "admission", "upstream")
        ]

    before = counts()
    api.post_chat(service, api.chat_body(), headers=headers)
    assert before == [1.0, None, None]
    assert counts() == [2.0, 1.0, 1.0]


def test_healthz_is_live(client):
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}


def test_readyz_reports_each_configuration_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {
            "settings": "ok",
            "bedrock_client": "ok",
            "credentials": "ok",
            "rate_limit_storage": "ok",
        },
    }


def test_readyz_is_503_without_credentials(fake, start, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    service = start()
    response = httpx.get(f"{service.base_url}/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["credentials"] == "missing"


def test_metrics_count_requests_upstream_calls_tokens_and_latency(fake, start, api):
    service = start()
    api.post_chat(service, api.chat_body())
    fake.set_faults(Fault("throttling", times=1))
    api.post_chat(service, api.chat_body("Second?"))
    text = httpx.get(f"{service.base_url}/metrics").text
    assert 'chatbot_http_requests_total{method="POST",route="/api/chat",status="200"} 2.0' in text
    assert 'chatbot_upstream_calls_total{operation="Converse",outcome="ok"} 2.0' in text
    assert 'chatbot_upstream_calls_total{operation="Converse",outcome="throttled"} 1.0' in text
    assert 'chatbot_throttles_total{source="upstream"} 1.0' in text
    registry = service.app.state.metrics.registry
    for direction in ("input", "output"):
        tokens = registry.get_sample_value("chatbot_model_tokens_total", {"direction": direction})
        assert tokens is not None and tokens > 0, direction
    assert 'chatbot_http_request_duration_seconds_bucket{le="2.0",route="/api/chat"} 2.0' in text


def test_openapi_schema_documents_the_contract(client):
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/api/session",
        "/api/chat",
        "/api/chat/stream",
        "/healthz",
        "/readyz",
    }
    chat = schema["paths"]["/api/chat"]["post"]
    assert {"400", "401", "403", "408", "413", "415", "422", "429", "503", "504"} <= set(
        chat["responses"]
    )
    assert chat["security"] == [{"HTTPBearer": []}]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert client.get("/docs").status_code == 404


@pytest.mark.parametrize("path", ["/widget/chat-widget.js", "/widget/chat-widget.css"])
def test_widget_assets_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.content
