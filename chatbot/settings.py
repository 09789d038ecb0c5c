"""The chat service's configuration: one pydantic-settings model read from `CHATBOT_*` variables."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate_limit
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chatbot.prompting import largest_prompt_tokens

ENV_PREFIX = "CHATBOT_"

# Cross-region inference profile of a current, fast Claude model; Claude 4.x models are only
# served through inference profiles, and a fast model is what the < 2 s budget needs.
DEFAULT_MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"

_REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_GUARDRAIL_VERSION_PATTERN = re.compile(r"^(DRAFT|[1-9][0-9]{0,7})$")


class SettingsError(ValueError):
    """The environment holds a setting the service cannot start with."""


class ChatbotSettings(BaseSettings):
    """Every knob of the chat service; ranges are checked so a typo fails at start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    # Serving. `production` is the one switch for a public deployment: tokens required, a
    # signing key and origins mandatory, /metrics on its own port, no schema, no Server-Timing.
    production: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port (tests)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_message_contents: bool = False
    expose_server_timing: bool = True  # ignored (off) in production

    # Slow clients: a connection that has not sent its headers, or its body, in time is closed.
    header_read_timeout_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    body_read_timeout_seconds: float = Field(default=5.0, gt=0.0, le=120.0)
    keep_alive_timeout_seconds: float = Field(default=5.0, gt=0.0, le=120.0)

    # Model.
    aws_region: str = "us-east-1"
    model_id: str = Field(default=DEFAULT_MODEL_ID, min_length=1, max_length=256)
    max_tokens: int = Field(default=400, ge=1, le=4096)
    temperature: float = Field(default=0.2, ge=0.0, le=1.0)
    guardrail_id: str | None = Field(default=None, pattern=r"^[a-z0-9]{1,64}$")
    guardrail_version: str | None = None
    site_name: str = Field(default="this website", min_length=1, max_length=100)
    # Asked when the primary model or profile is throttled or unavailable; the failing model
    # is then left alone for the cool-down.
    fallback_model_id: str | None = Field(default=None, min_length=1, max_length=256)
    model_cooldown_seconds: float = Field(default=30.0, gt=0.0, le=3600.0)

    # Time budget, retries and connection pool.
    deadline_seconds: float = Field(default=1.8, gt=0.05, le=30.0)
    stream_max_seconds: float = Field(default=30.0, gt=0.1, le=300.0)
    connect_timeout_seconds: float = Field(default=0.5, gt=0.0, le=10.0)
    read_timeout_seconds: float = Field(default=2.0, gt=0.0, le=60.0)
    max_attempts: int = Field(default=3, ge=1, le=5)
    retry_base_delay_seconds: float = Field(default=0.05, ge=0.0, le=1.0)
    min_attempt_seconds: float = Field(default=0.3, ge=0.0, le=10.0)
    max_pool_connections: int = Field(default=64, ge=1, le=1024)
    max_concurrent_upstream: int = Field(default=64, ge=1, le=1024)
    admission_wait_seconds: float = Field(default=0.2, ge=0.0, le=5.0)

    # Circuit breaker.
    circuit_failure_threshold: int = Field(default=5, ge=1, le=1000)
    circuit_cooldown_seconds: float = Field(default=10.0, gt=0.0, le=600.0)

    # Abuse and cost controls.
    rate_limit_storage_uri: str = "memory://"
    session_rate_limit: str = "10/minute"
    ip_rate_limit: str = "30/minute"
    # The same windows counted in tokens (prompt estimate + max output tokens per question).
    session_token_rate_limit: str = "12000/minute"
    ip_token_rate_limit: str = "30000/minute"
    global_requests_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    global_tokens_per_minute: int = Field(default=400_000, ge=100, le=100_000_000)
    # Tokens Bedrock reports as used per UTC day, whole service; over it: 503 budget_exhausted.
    daily_token_budget: int = Field(default=50_000_000, ge=1_000, le=10_000_000_000)
    budget_warning_fraction: float = Field(default=0.8, gt=0.0, le=1.0)
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    max_body_bytes: int = Field(default=262_144, ge=1024, le=4_194_304)
    page_token_budget: int = Field(default=1500, ge=50, le=50_000)

    # Browser access and caller authentication.
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    require_token: bool = False  # always on in production
    token_signing_key: SecretStr | None = Field(default=None, min_length=32)
    token_signing_key_previous: SecretStr | None = Field(default=None, min_length=32)
    token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    session_grant_rate_limit: str = "20/minute"  # tokens issued per client IP

    # Response cache: identical question, same page content, same model settings.
    cache_enabled: bool = True
    cache_ttl_seconds: int = Field(default=300, ge=1, le=86_400)
    cache_max_entries: int = Field(default=10_000, ge=1, le=10_000_000)
    redis_url: str | None = None  # the cache lives in Redis when set, else in process memory

    @field_validator("aws_region")
    @classmethod
    def _region_looks_like_aws(cls, value: str) -> str:
        if not _REGION_PATTERN.match(value):
            raise ValueError(f"{value!r} is not an AWS region name such as us-east-1")
        return value

    @field_validator("guardrail_version")
    @classmethod
    def _guardrail_version_is_draft_or_number(cls, value: str | None) -> str | None:
        if value is not None and not _GUARDRAIL_VERSION_PATTERN.match(value):
            raise ValueError("must be DRAFT or a version number such as 1")
        return value

    @field_validator(
        "session_rate_limit",
        "ip_rate_limit",
        "session_token_rate_limit",
        "ip_token_rate_limit",
        "session_grant_rate_limit",
    )
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError as error:
            raise ValueError(f"{value!r} is not a rate such as 10/minute") from error
        return value

    @field_validator("rate_limit_storage_uri")
    @classmethod
    def _storage_uri_is_supported(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].removeprefix("async+")
        if "://" not in value or scheme not in {"memory", "redis", "rediss", "redis+cluster"}:
            raise ValueError("use memory:// or a redis://host:port URI")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_is_redis(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("use a redis://host:port/db (or rediss://, unix://) URL")
        return value

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins_are_exact(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError(f"{origin!r} is not an origin such as https://www.example.com")
            if parts.path or parts.query or parts.fragment or "*" in origin:
                raise ValueError(f"{origin!r} must be a bare origin without path or wildcard")
        return origins

    @model_validator(mode="after")
    def _consistent(self) -> ChatbotSettings:
        if (self.guardrail_id is None) != (self.guardrail_version is None):
            raise ValueError("set both CHATBOT_GUARDRAIL_ID and CHATBOT_GUARDRAIL_VERSION or none")
        if self.max_concurrent_upstream > self.max_pool_connections:
            raise ValueError(
                "CHATBOT_MAX_CONCURRENT_UPSTREAM must not exceed CHATBOT_MAX_POOL_CONNECTIONS"
            )
        if self.global_tokens_per_minute < self.largest_request_tokens:
            raise ValueError(
                "CHATBOT_GLOBAL_TOKENS_PER_MINUTE must hold at least one largest request "
                f"({self.largest_request_tokens} tokens: page budget, question, prompt, max tokens)"
            )
        if self.min_attempt_seconds >= self.deadline_seconds:
            raise ValueError("CHATBOT_MIN_ATTEMPT_SECONDS must be below CHATBOT_DEADLINE_SECONDS")
        self._token_limits_hold_the_largest_request()
        if self.fallback_model_id is not None and self.fallback_model_id == self.model_id:
            raise ValueError("CHATBOT_FALLBACK_MODEL_ID must differ from CHATBOT_MODEL_ID")
        if self.production:
            self._fit_for_production()
        return self

    def _token_limits_hold_the_largest_request(self) -> None:
        """A limit below one largest question would refuse it forever, whatever the wait."""
        largest = self.largest_request_tokens
        for name in ("session_token_rate_limit", "ip_token_rate_limit"):
            if parse_rate_limit(getattr(self, name)).amount < largest:
                raise ValueError(
                    f"CHATBOT_{name.upper()} must allow at least one largest request "
                    f"({largest} tokens)"
                )
        if self.daily_token_budget < largest:
            raise ValueError(f"CHATBOT_DAILY_TOKEN_BUDGET must hold at least {largest} tokens")

    def _fit_for_production(self) -> None:
        if self.token_signing_key is None:
            raise ValueError(
                "CHATBOT_TOKEN_SIGNING_KEY is required in production (32+ random characters, "
                "the same on every instance)"
            )
        if not self.cors_allow_origins:
            raise ValueError(
                "CHATBOT_CORS_ALLOW_ORIGINS must list the sites' origins in production"
            )
        if self.metrics_port == self.port:
            raise ValueError("CHATBOT_METRICS_PORT must differ from CHATBOT_PORT")

    @property
    def tokens_required(self) -> bool:
        return self.production or self.require_token

    @property
    def server_timing_enabled(self) -> bool:
        return self.expose_server_timing and not self.production

    @property
    def largest_request_tokens(self) -> int:
        """Tokens one call can reserve: system prompt, the longest question and page, output."""
        return largest_prompt_tokens(self.site_name, self.page_token_budget) + self.max_tokens


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the offending variables, so an operator can fix the environment."""
    parts = []
    for item in error.errors():
        field_name = ".".join(str(part) for part in item["loc"])
        variable = f"{ENV_PREFIX}{field_name.upper()}" if field_name else "settings"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{variable}: {message}")
    return "invalid chat service settings: " + "; ".join(parts)


def load_settings(**overrides: object) -> ChatbotSettings:
    """Read the environment (plus explicit overrides), or raise SettingsError with one line."""
    try:
        return ChatbotSettings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
