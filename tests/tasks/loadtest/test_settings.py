"""Load-test settings: defaults that fit the brief, the environment, and one-line errors."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from tasks.loadtest.settings import DEFAULT_CHAT_URL, LoadTestSettings, load_loadtest_settings


def test_the_default_target_is_where_the_chat_service_listens_by_default() -> None:
    from chatbot.settings import ChatbotSettings

    fields = ChatbotSettings.model_fields
    assert f"http://{fields['host'].default}:{fields['port'].default}" == DEFAULT_CHAT_URL


def test_defaults_ramp_from_50_to_800_per_minute_and_judge_the_brief_slo() -> None:
    settings = LoadTestSettings()

    assert settings.rates_per_minute == [50, 100, 200, 400, 800]
    assert (settings.slo_rate_per_minute, settings.slo_p95_seconds) == (100, 2.0)
    assert settings.refusal_p99_ms == 100
    assert settings.max_total_seconds == 300


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCSEG_LOADTEST_RATES_PER_MINUTE", "30, 60,120")
    monkeypatch.setenv("CCSEG_LOADTEST_MODEL_FAULTS", '{"throttling": 0.1}')
    monkeypatch.setenv("CCSEG_LOADTEST_SERVICE_ENV", '{"CHATBOT_SESSION_RATE_LIMIT": "5/minute"}')

    settings = load_loadtest_settings(step_seconds=5)

    assert settings.rates_per_minute == [30, 60, 120]
    assert settings.model_faults == {"throttling": 0.1}
    assert settings.service_env == {"CHATBOT_SESSION_RATE_LIMIT": "5/minute"}
    assert settings.step_seconds == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rates_per_minute": "100,50"}, "rates_per_minute: rates must increase"),
        ({"rates_per_minute": ""}, "rates_per_minute: give at least one rate"),
        ({"rates_per_minute": "100,abc"}, "rates_per_minute"),
        ({"rates_per_minute": "0,10"}, "every rate must be within"),
        ({"origin": "https://www.example.com/page"}, "origin: 'https://www.example.com/page' must"),
        ({"origin": "www.example.com"}, "is not an origin"),
        ({"model_faults": {"throttling": 2}}, "fault throttling=2"),
        ({"service_env": {"AWS_SECRET_ACCESS_KEY": "x"}}, "only CHATBOT_* settings"),
        ({"step_seconds": 400, "max_total_seconds": 300}, "hold at least one step"),
        ({"max_rate_per_minute": 400}, "at least the last listed rate"),
        ({"model_latency_ms": 900, "model_latency_p99_ms": 500}, "model_latency_p99_ms must"),
        ({"repeat_share": 1.5}, "repeat_share"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
    ],
)
def test_bad_settings_are_one_parameter_error_naming_the_setting(
    overrides: dict, message: str
) -> None:
    with pytest.raises(ParameterError, match="invalid load-test setting") as error:
        load_loadtest_settings(**overrides)

    assert message in str(error.value)
    assert "\n" not in str(error.value)
