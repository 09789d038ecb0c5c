"""Settings: defaults are valid, every malformed environment value fails with one clear line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from chatbot.cli import app as chatbot_cli
from chatbot.settings import ChatbotSettings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("CHATBOT_"):
            monkeypatch.delenv(name)


def test_defaults_fit_the_two_second_budget():
    settings = load_settings()
    assert settings.deadline_seconds < 2.0
    assert settings.read_timeout_seconds <= 2.5 and settings.connect_timeout_seconds <= 1.0
    assert settings.max_concurrent_upstream <= settings.max_pool_connections
    assert settings.rate_limit_storage_uri == "memory://"
    assert settings.log_message_contents is False
    assert settings.cors_allow_origins == []
    assert settings.production is False and settings.token_signing_key is None
    assert settings.cache_enabled and settings.redis_url is None
    assert settings.header_read_timeout_seconds <= 10 and settings.body_read_timeout_seconds <= 10


def test_the_signing_key_never_shows_in_a_repr_or_error(monkeypatch):
    key = "s" * 20 + "-never-printed-" + "s" * 20
    monkeypatch.setenv("CHATBOT_TOKEN_SIGNING_KEY", key)
    settings = load_settings()
    assert key not in repr(settings) and key not in str(settings.model_dump())
    assert settings.token_signing_key.get_secret_value() == key
    monkeypatch.setenv("CHATBOT_TOKEN_SIGNING_KEY_PREVIOUS", "short-" + "x")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "short-x" not in str(raised.value)


def test_environment_variables_use_the_chatbot_prefix(monkeypatch):
    monkeypatch.setenv("CHATBOT_DEADLINE_SECONDS", "1.2")
    monkeypatch.setenv("CHATBOT_CORS_ALLOW_ORIGINS", "https://a.example, https://b.example:8443")
    monkeypatch.setenv("CHATBOT_RATE_LIMIT_STORAGE_URI", "redis://cache:6379/0")
    settings = load_settings()
    assert settings.deadline_seconds == 1.2
    assert settings.cors_allow_origins == ["https://a.example", "https://b.example:8443"]
    assert settings.rate_limit_storage_uri == "redis://cache:6379/0"


MALFORMED = [
    ("CHATBOT_DEADLINE_SECONDS", "soon"),
    ("CHATBOT_DEADLINE_SECONDS", "-1"),
    ("CHATBOT_MAX_TOKENS", "0"),
    ("CHATBOT_TEMPERATURE", "1.5"),
    ("CHATBOT_PORT", "70000"),
    ("CHATBOT_AWS_REGION", "mars-north"),
    ("CHATBOT_SESSION_RATE_LIMIT", "ten per minute"),
    ("CHATBOT_RATE_LIMIT_STORAGE_URI", "mysql://db"),
    ("CHATBOT_CORS_ALLOW_ORIGINS", "*"),
    ("CHATBOT_CORS_ALLOW_ORIGINS", "https://a.example/path"),
    ("CHATBOT_LOG_LEVEL", "LOUD"),
    ("CHATBOT_LOG_MESSAGE_CONTENTS", "perhaps"),
    ("CHATBOT_GUARDRAIL_VERSION", "latest"),
    ("CHATBOT_PRODUCTION", "sometimes"),
    ("CHATBOT_METRICS_PORT", "99999"),
    ("CHATBOT_HEADER_READ_TIMEOUT_SECONDS", "0"),
    ("CHATBOT_BODY_READ_TIMEOUT_SECONDS", "never"),
    ("CHATBOT_KEEP_ALIVE_TIMEOUT_SECONDS", "-5"),
    ("CHATBOT_IP_TOKEN_RATE_LIMIT", "lots"),
    ("CHATBOT_SESSION_TOKEN_RATE_LIMIT", "12000 per fortnight"),
    ("CHATBOT_SESSION_GRANT_RATE_LIMIT", "often"),
    ("CHATBOT_DAILY_TOKEN_BUDGET", "10"),
    ("CHATBOT_BUDGET_WARNING_FRACTION", "1.5"),
    ("CHATBOT_TOKEN_SIGNING_KEY", "too-short"),
    ("CHATBOT_TOKEN_SIGNING_KEY_PREVIOUS", "too-short"),
    ("CHATBOT_TOKEN_TTL_SECONDS", "5"),
    ("CHATBOT_CACHE_ENABLED", "perhaps"),
    ("CHATBOT_CACHE_TTL_SECONDS", "0"),
    ("CHATBOT_CACHE_MAX_ENTRIES", "0"),
    ("CHATBOT_REDIS_URL", "http://cache:6379"),
    ("CHATBOT_MODEL_COOLDOWN_SECONDS", "0"),
    ("CHATBOT_FALLBACK_MODEL_ID", ""),
]


@pytest.mark.parametrize(("name", "value"), MALFORMED)
def test_malformed_value_fails_with_one_line_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert name in message


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"guardrail_id": "abc123"}, "GUARDRAIL"),
        ({"max_concurrent_upstream": 100, "max_pool_connections": 10}, "MAX_CONCURRENT"),
        ({"min_attempt_seconds": 2.0, "deadline_seconds": 1.0}, "MIN_ATTEMPT"),
        ({"global_tokens_per_minute": 1000}, "GLOBAL_TOKENS_PER_MINUTE"),
        ({"ip_token_rate_limit": "1000/minute"}, "IP_TOKEN_RATE_LIMIT"),
        ({"session_token_rate_limit": "1000/minute"}, "SESSION_TOKEN_RATE_LIMIT"),
        ({"daily_token_budget": 2000}, "DAILY_TOKEN_BUDGET"),
        ({"fallback_model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}, "FALLBACK"),
        ({"production": True}, "TOKEN_SIGNING_KEY"),
    ],
)
def test_inconsistent_settings_are_refused(overrides, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings(**overrides)


def test_settings_are_immutable():
    settings = ChatbotSettings()
    with pytest.raises(ValueError):
        settings.deadline_seconds = 5  # type: ignore[misc]


def test_serve_exits_2_with_one_line_on_bad_settings(monkeypatch):
    monkeypatch.setenv("CHATBOT_DEADLINE_SECONDS", "forever")
    result = CliRunner().invoke(chatbot_cli, ["serve"])
    assert result.exit_code == 2
    assert "CHATBOT_DEADLINE_SECONDS" in result.output
    assert "Traceback" not in result.output
