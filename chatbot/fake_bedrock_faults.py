"""Bedrock's error catalogue and the fake's fault plan (scripted faults, then random ones)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

# The suffix Bedrock appends to the code in the `x-amzn-ErrorType` header; botocore keeps only
# the part before the first colon.
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

OPERATIONS = ("Converse", "ConverseStream", "InvokeModel")


@dataclass(frozen=True)
class BedrockError:
    """One modelled Bedrock runtime error: its code, HTTP status and usual message."""

    code: str
    status: int
    message: str
    stream_exception_type: str | None = None  # name inside ConverseStream's event union


TOO_MANY_REQUESTS = "Too many requests, please wait before trying again."
TOO_MANY_TOKENS = "Too many tokens, please wait before trying again."

# Statuses come from botocore's bedrock-runtime service model (2023-09-30).
ERRORS: Mapping[str, BedrockError] = {
    "throttling": BedrockError(
        "ThrottlingException", 429, TOO_MANY_REQUESTS, "throttlingException"
    ),
    "model_not_ready": BedrockError(
        "ModelNotReadyException",
        429,
        "Model is not ready to serve inference requests. Try again later.",
    ),
    "model_timeout": BedrockError(
        "ModelTimeoutException",
        408,
        "Model has timed out in processing the request. Try your request again.",
    ),
    "internal": BedrockError(
        "InternalServerException",
        500,
        "The server encountered an internal error while processing the request.",
        "internalServerException",
    ),
    "unavailable": BedrockError(
        "ServiceUnavailableException",
        503,
        "Bedrock is unable to process your request.",
        "serviceUnavailableException",
    ),
    "access_denied": BedrockError(
        "AccessDeniedException",
        403,
        "You don't have access to the model with the specified model ID.",
    ),
    "not_found": BedrockError(
        "ResourceNotFoundException",
        404,
        "Could not resolve the foundation model from the provided model identifier.",
    ),
    "validation": BedrockError(
        "ValidationException",
        400,
        "Malformed input request, please reformat your input and try again.",
        "validationException",
    ),
    "model_error": BedrockError(
        "ModelErrorException", 424, "The model returned an error while processing the request."
    ),
    "model_stream_error": BedrockError(
        "ModelStreamErrorException",
        424,
        "The model stream was interrupted. Try your request again.",
        "modelStreamErrorException",
    ),
}

FaultKind = Literal[
    "throttling",
    "model_not_ready",
    "model_timeout",
    "internal",
    "unavailable",
    "access_denied",
    "not_found",
    "validation",
    "model_error",
    "model_stream_error",
    "stall",
    "malformed",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


class FaultConfigError(ValueError):
    """A fault or fault rate cannot be applied as written."""


@dataclass(frozen=True)
class Fault:
    """One scripted fault, applied to the next `times` requests for the listed operations.

    `kind` is an error from `ERRORS`, or `stall` (sleep `delay_seconds`, default the config's
    `stall_seconds`, before answering normally: a client with a shorter read timeout gives up)
    or `malformed` (status 200 with a body that is not JSON, or not an event stream).
    `delay_seconds` before an error imitates slow failures such as ModelTimeoutException.
    `mid_stream=True` makes ConverseStream answer 200, send a first text chunk, then the error
    as an event-stream exception message (only errors with a stream exception type qualify),
    or, for `stall`, go quiet for the delay after the first chunk and then finish normally.
    `models` limits the fault to those model ids (a throttled primary, say; empty: every model).
    `times=None` repeats the fault until the fault list is replaced.
    """

    kind: FaultKind
    times: int | None = 1
    operations: frozenset[str] = field(default_factory=frozenset)  # empty: every operation
    models: frozenset[str] = field(default_factory=frozenset)  # empty: every model
    delay_seconds: float | None = None
    mid_stream: bool = False
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultConfigError(f"unknown fault kind {self.kind!r}; choose from {FAULT_KINDS}")
        if self.times is not None and self.times < 1:
            raise FaultConfigError("times must be at least 1 (or None for every request)")
        unknown = set(self.operations) - set(OPERATIONS)
        if unknown:
            raise FaultConfigError(f"unknown operations {sorted(unknown)}; use {OPERATIONS}")
        object.__setattr__(self, "operations", frozenset(self.operations))
        object.__setattr__(self, "models", frozenset(self.models))
        if self.mid_stream and not (self.is_stream_exception or self.kind == "stall"):
            raise FaultConfigError(
                f"{self.kind!r} cannot be sent mid-stream: ConverseStream only carries "
                "throttling, internal, unavailable, validation and model_stream_error "
                "(or a stall)"
            )
        if self.delay_seconds is not None and self.delay_seconds < 0:
            raise FaultConfigError("delay_seconds must not be negative")

    @property
    def is_stream_exception(self) -> bool:
        error = ERRORS.get(self.kind)
        return error is not None and error.stream_exception_type is not None

    def applies_to(self, operation: str, model_id: str = "") -> bool:
        return (not self.operations or operation in self.operations) and (
            not self.models or model_id in self.models
        )


def validate_fault_rates(rates: Mapping[str, float]) -> None:
    """Rates are per-request probabilities of each kind; together they must not exceed 1."""
    for kind, rate in rates.items():
        if kind not in FAULT_KINDS:
            raise FaultConfigError(f"unknown fault kind {kind!r} in fault_rates")
        if not 0.0 <= rate <= 1.0:
            raise FaultConfigError(f"fault rate for {kind!r} must be within 0..1, got {rate}")
    if sum(rates.values()) > 1.0 + 1e-9:
        raise FaultConfigError("fault rates add up to more than 1")


class FaultPlan:
    """Chooses the fault for each request: the first matching scripted fault, else a random one.

    Thread-safe; the random draws come from a seeded generator so a run is reproducible for a
    given order of arrivals.
    """

    def __init__(
        self, faults: Iterable[Fault], rates: Mapping[str, float], rng: random.Random
    ) -> None:
        validate_fault_rates(rates)
        self._lock = threading.Lock()
        self._scripted: list[list] = [[fault, fault.times] for fault in faults]
        self._rates = dict(rates)
        self._rng = rng

    def replace(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._scripted = [[fault, fault.times] for fault in faults]

    def pending(self) -> list[Fault]:
        with self._lock:
            return [fault for fault, _ in self._scripted]

    def next_fault(self, operation: str, model_id: str = "") -> Fault | None:
        with self._lock:
            for entry in self._scripted:
                fault, remaining = entry
                if not fault.applies_to(operation, model_id):
                    continue
                if remaining is not None:
                    entry[1] = remaining - 1
                    if entry[1] == 0:
                        self._scripted.remove(entry)
                return fault
            if not self._rates:
                return None
            draw = self._rng.random()
            for kind, rate in self._rates.items():
                if draw < rate:
                    return Fault(kind)  # type: ignore[arg-type]
                draw -= rate
            return None
