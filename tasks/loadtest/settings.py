"""The load test's settings: the ramp, the SLO and limit thresholds, the traffic mix, the services.

One pydantic-settings object read from `CCSEG_LOADTEST_*` variables (the CLI's options override
them), and the one default target: where `ccseg chatbot serve` listens by default.
"""

from __future__ import annotations

import itertools
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ParameterError

ENV_PREFIX = "CCSEG_LOADTEST_"
# The chat service's own defaults (chatbot/settings.py: host, port); the one source for both.
DEFAULT_CHAT_HOST = "127.0.0.1"
DEFAULT_CHAT_PORT = 8080
DEFAULT_CHAT_URL = f"http://{DEFAULT_CHAT_HOST}:{DEFAULT_CHAT_PORT}"
# The site whose pages the simulated visitors read: the widget runs there, so browsers send it
# as Origin. The chat service's allowlist (CHATBOT_CORS_ALLOW_ORIGINS) is empty by default, so
# no default can match it; --start-services adds this origin, another target must allow it.
DEFAULT_ORIGIN = "https://www.example.com"
MAX_RATE_PER_MINUTE = 100_000.0
DEFAULT_RATES_PER_MINUTE = (50.0, 100.0, 200.0, 400.0, 800.0)


class LoadTestSettings(BaseSettings):
    """Every knob of `ccseg loadtest`; ranges are checked so a typo fails before any load."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    # The ramp: the listed steps always run, then the rate doubles while the SLO holds.
    rates_per_minute: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RATES_PER_MINUTE)
    )
    max_rate_per_minute: float = Field(default=6_400.0, gt=0, le=MAX_RATE_PER_MINUTE)
    step_seconds: float = Field(default=30.0, gt=0, le=600)
    step_max_requests: int = Field(default=2_000, ge=1, le=20_000)
    max_total_seconds: float = Field(default=300.0, gt=0, le=3_600)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    seed: int = Field(default=0, ge=0)

    # The SLO (the brief: 100 requests/minute answered in < 2 s) and the limits' behaviour.
    slo_rate_per_minute: float = Field(default=100.0, gt=0, le=MAX_RATE_PER_MINUTE)
    slo_p95_seconds: float = Field(default=2.0, gt=0, le=60)
    slo_min_answered_share: float = Field(default=0.95, ge=0, le=1)
    refusal_p99_ms: float = Field(default=100.0, gt=0, le=60_000)
    abusive_min_refused_share: float = Field(default=0.5, ge=0, le=1)
    # The driver's own health: beyond these, a step's figures describe the driver, not the
    # service (p95: a single scheduling hiccup of a busy machine is not a lagging driver).
    min_achieved_share: float = Field(default=0.95, ge=0, le=1)
    max_schedule_lag_p95_ms: float = Field(default=50.0, gt=0, le=60_000)

    # The traffic mix.
    origin: str = DEFAULT_ORIGIN
    repeat_share: float = Field(default=0.3, ge=0, le=1)
    questions_per_session: int = Field(default=3, ge=1, le=20)
    sessions_per_ip: int = Field(default=2, ge=1, le=100)
    abusive_clients: int = Field(default=2, ge=0, le=20)
    abusive_rate_per_minute: float = Field(default=60.0, gt=0, le=6_000)

    # The services `--start-services` starts: the fake model and the chat service's extra env.
    model_latency_ms: float = Field(default=800.0, ge=0, le=30_000)
    model_latency_p99_ms: float | None = Field(default=1_500.0, ge=0, le=60_000)
    model_requests_per_minute: int | None = Field(default=None, ge=1)
    model_tokens_per_minute: int | None = Field(default=None, ge=1)
    model_faults: dict[str, float] = Field(default_factory=lambda: {"throttling": 0.02})
    service_env: dict[str, str] = Field(default_factory=dict)
    services_ready_seconds: float = Field(default=60.0, gt=0, le=600)

    @field_validator("rates_per_minute", mode="before")
    @classmethod
    def _split_rates(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rates_per_minute")
    @classmethod
    def _rates_increase(cls, rates: list[float]) -> list[float]:
        if not rates:
            raise ValueError("give at least one rate, e.g. 50,100,200")
        if any(not 0 < rate <= MAX_RATE_PER_MINUTE for rate in rates):
            raise ValueError(f"every rate must be within (0, {MAX_RATE_PER_MINUTE:.0f}] per minute")
        if any(later <= earlier for earlier, later in itertools.pairwise(rates)):
            raise ValueError("rates must increase, e.g. 50,100,200")
        return rates

    @field_validator("origin")
    @classmethod
    def _origin_is_bare(cls, origin: str) -> str:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"{origin!r} is not an origin such as https://www.example.com")
        if parts.path or parts.query or parts.fragment:
            raise ValueError(f"{origin!r} must be a bare origin, without a path")
        return origin

    @field_validator("model_faults")
    @classmethod
    def _fault_rates_are_shares(cls, faults: dict[str, float]) -> dict[str, float]:
        for kind, rate in faults.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"fault {kind}={rate} must be a share within [0, 1]")
        return faults

    @field_validator("service_env")
    @classmethod
    def _service_env_is_chatbot_settings(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if not name.startswith("CHATBOT_"):
                raise ValueError(f"{name!r}: only CHATBOT_* settings of the chat service")
        return env

    @model_validator(mode="after")
    def _consistent(self) -> LoadTestSettings:
        if self.step_seconds + self.timeout_seconds > self.max_total_seconds:
            raise ValueError("max_total_seconds must hold at least one step and its timeout")
        if self.max_rate_per_minute < self.rates_per_minute[-1]:
            raise ValueError("max_rate_per_minute must be at least the last listed rate")
        p99 = self.model_latency_p99_ms
        if p99 is not None and p99 < self.model_latency_ms:
            raise ValueError("model_latency_p99_ms must be at least model_latency_ms")
        return self


def load_loadtest_settings(**overrides: object) -> LoadTestSettings:
    """The environment plus explicit overrides, or one ParameterError naming each bad setting."""
    try:
        return LoadTestSettings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: "
            f"{item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        )
        raise ParameterError(f"invalid load-test setting: {problems}") from None
