"""Logs are JSON and leave message contents out by default; metrics have their own registry."""

from __future__ import annotations

import json
import logging

import httpx

from chatbot.observability import ChatMetrics, JsonLogFormatter, pseudonymize

SECRET_QUESTION = "My card number is 4111 1111 1111 1111, why was it declined?"
SECRET_PAGE = "Account holder: Jane Example, balance 1234.56"


def chat_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == "chat_answered"]


def test_logs_leave_message_and_page_contents_out_by_default(fake, start, api, caplog):
    caplog.set_level(logging.INFO, logger="chatbot")
    service = start()
    body = api.chat_body(SECRET_QUESTION, text=SECRET_PAGE, session_id="session-secret-1")
    assert api.post_chat(service, body).status_code == 200
    [record] = chat_records(caplog)
    assert record.fields["session"] == pseudonymize("session-secret-1")
    assert record.fields["message_chars"] == len(SECRET_QUESTION)
    every_line = "\n".join(JsonLogFormatter().format(entry) for entry in caplog.records)
    assert "4111" not in every_line and "Jane Example" not in every_line
    assert "session-secret-1" not in every_line


def test_message_contents_are_logged_only_when_enabled(fake, start, api, caplog):
    caplog.set_level(logging.INFO, logger="chatbot")
    service = start(log_message_contents=True)
    api.post_chat(service, api.chat_body(SECRET_QUESTION))
    [record] = chat_records(caplog)
    assert record.fields["message"] == SECRET_QUESTION


def test_every_request_is_logged_with_its_id_status_and_duration(fake, start, api, caplog):
    caplog.set_level(logging.INFO, logger="chatbot")
    service = start()
    response = httpx.get(f"{service.base_url}/nowhere")
    # Written before the response's last byte, so it is there as soon as the client has it.
    [record] = [r for r in caplog.records if r.getMessage() == "request"]
    assert record.fields["request_id"] == response.headers["x-request-id"]
    assert record.fields["status"] == 404
    assert record.fields["duration_ms"] >= 0


def test_json_formatter_writes_one_parseable_line_with_fields():
    record = logging.LogRecord("chatbot.test", logging.INFO, __file__, 1, "event", (), None)
    record.fields = {"request_id": "abc", "text": "line\nbreak ✓"}
    line = JsonLogFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["event"] == "event" and parsed["request_id"] == "abc"
    assert parsed["level"] == "INFO"


def test_each_app_instance_has_its_own_metrics_registry():
    first, second = ChatMetrics(), ChatMetrics()
    first.requests.labels("/api/chat", "POST", "200").inc()
    assert second.registry.get_sample_value(
        "chatbot_http_requests_total", {"route": "/api/chat", "method": "POST", "status": "200"}
    ) in (None, 0.0)
