"""The fake Bedrock's request logic: route, check the SigV4 scope, apply faults, quotas, latency."""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from chatbot.eventstream import encode_event, encode_exception
from chatbot.fake_bedrock_answers import (
    Answer,
    claude_messages_response,
    compose_answer,
    converse_response,
    stream_chunks,
    stream_delta,
    stream_head,
    stream_tail,
    text_completion_response,
)
from chatbot.fake_bedrock_faults import ERRORS, Fault, FaultPlan
from chatbot.fake_bedrock_http import StoppingError
from chatbot.fake_bedrock_pacing import LatencySampler, Quotas
from chatbot.fake_bedrock_requests import (
    InvalidModelRequest,
    ModelRequest,
    parse_converse,
    parse_invoke,
)
from chatbot.fake_bedrock_stats import FakeStats, RecordedRequest

if TYPE_CHECKING:
    from chatbot.fake_bedrock import FakeBedrockConfig
    from chatbot.fake_bedrock_http import FakeBedrockHandler

_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream|invoke)$")
_OPERATIONS = {"converse": "Converse", "converse-stream": "ConverseStream", "invoke": "InvokeModel"}
_CREDENTIAL_SCOPE = re.compile(
    r"Credential=[^/,]+/\d{8}/(?P<region>[^/,]+)/(?P<service>[^/,]+)/aws4_request"
)
SIGNING_NAME = "bedrock"


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


class BedrockRuntime:
    """Turns one request into one response, applying the configured faults, quotas and latency."""

    def __init__(self, config: FakeBedrockConfig, stats: FakeStats) -> None:
        self.stats = stats
        self.stopping = threading.Event()
        self.configure(config)

    def configure(self, config: FakeBedrockConfig) -> None:
        """Swap in a whole new configuration: quota windows restart empty, faults are replaced."""
        self.config = config
        self.latency = LatencySampler(
            config.latency_ms_median, config.latency_ms_p99, random.Random(config.seed)
        )
        self.quotas = Quotas(
            config.requests_per_minute, config.tokens_per_minute, config.quota_window_seconds
        )
        self.plan = FaultPlan(config.faults, config.fault_rates, random.Random(config.seed + 1))

    def pause(self, seconds: float) -> None:
        if seconds > 0 and self.stopping.wait(seconds):
            raise StoppingError

    def pause_until(self, moment: float) -> None:
        """Sleep until a monotonic moment; the model latency is counted from the request's
        arrival, so the fake's own work (parsing, faults, stats) does not add to it."""
        self.pause(moment - time.monotonic())

    def _signature_error(
        self, authorization: str | None, scope: re.Match[str] | None
    ) -> tuple[str, int, str] | None:
        if not self.config.require_signature:
            return None
        if not authorization:
            return "MissingAuthenticationTokenException", 403, "Missing Authentication Token"
        if authorization.startswith("Bearer "):
            return None
        if scope is None:
            return (
                "IncompleteSignatureException",
                403,
                "Authorization header requires 'Credential' parameter.",
            )
        if scope["service"] != SIGNING_NAME:
            return (
                "InvalidSignatureException",
                403,
                f"Credential should be scoped to correct service: '{SIGNING_NAME}'.",
            )
        return None

    def handle(self, handler: FakeBedrockHandler) -> None:
        request_id = str(uuid.uuid4())
        raw = handler.read_body()
        route = _ROUTE.match(urlsplit(handler.path).path)
        if handler.command != "POST" or route is None:
            handler.write_error(request_id, "UnknownOperationException", 404, "Unknown operation")
            return
        operation = _OPERATIONS[route["action"]]
        model_id = unquote(route["model"])
        authorization = handler.headers.get("Authorization")
        scope = _CREDENTIAL_SCOPE.search(authorization or "")

        def record(outcome: str, prompt: str | None = None) -> None:
            region = scope["region"] if scope else None
            self.stats.record(
                RecordedRequest(operation, model_id, _json_or_none(raw), prompt, region, outcome)
            )

        signature_error = self._signature_error(authorization, scope)
        if signature_error is not None:
            record(signature_error[0])
            handler.write_error(request_id, *signature_error)
            return
        try:
            if operation == "InvokeModel":
                request = parse_invoke(model_id, raw, self.config.model_max_tokens)
            else:
                request = parse_converse(raw, self.config.model_max_tokens)
        except InvalidModelRequest as invalid:
            record("ValidationException")
            handler.write_error(request_id, "ValidationException", 400, str(invalid))
            return

        fault = self.plan.next_fault(operation, model_id)
        mid_stream = fault is not None and fault.mid_stream and operation == "ConverseStream"
        if fault is not None and fault.kind not in {"stall", "malformed"} and not mid_stream:
            error = ERRORS[fault.kind]
            record(error.code, request.prompt_text)
            self.pause(fault.delay_seconds or 0.0)
            message = fault.message or error.message
            handler.write_error(request_id, error.code, error.status, message)
            return
        throttled = self.quotas.admit(request.input_tokens + request.max_tokens)
        if throttled is not None:
            record("ThrottlingException", request.prompt_text)
            handler.write_error(request_id, "ThrottlingException", 429, throttled)
            return
        if fault is not None and fault.kind == "malformed":
            record("malformed", request.prompt_text)
            self.pause_until(handler.received_at + self.latency.sample_seconds())
            handler.write_malformed(request_id, operation)
            return
        stalled = fault is not None and fault.kind == "stall"
        outcome = ERRORS[fault.kind].code if mid_stream and fault and not stalled else "ok"
        record(("stall+" if stalled else "") + outcome, request.prompt_text)
        started = handler.received_at
        if stalled and fault is not None and not mid_stream:
            stall = fault.delay_seconds
            self.pause(self.config.stall_seconds if stall is None else stall)
            started = time.monotonic()  # a stall holds the request back: the model starts after

        self._answer(
            handler,
            request_id,
            operation,
            model_id,
            request,
            fault if mid_stream else None,
            started,
        )

    def _answer(
        self,
        handler: FakeBedrockHandler,
        request_id: str,
        operation: str,
        model_id: str,
        request: ModelRequest,
        mid_stream_fault: Fault | None,
        started: float,
    ) -> None:
        answer = compose_answer(request)
        if operation == "ConverseStream":
            self._stream(handler, request_id, answer, mid_stream_fault, started)
            return
        latency = self.latency.sample_seconds()
        self.pause_until(started + latency)
        latency_ms = round(latency * 1000)
        if operation == "Converse":
            handler.write_json(request_id, converse_response(answer, latency_ms))
        elif request.body_format == "claude_messages":
            body = claude_messages_response(answer, model_id, f"msg_bdrk_{uuid.uuid4().hex[:24]}")
            handler.write_json(request_id, body, _invoke_headers(answer, latency_ms))
        else:
            body = text_completion_response(answer)
            handler.write_json(request_id, body, _invoke_headers(answer, latency_ms))

    def _stream(
        self,
        handler: FakeBedrockHandler,
        request_id: str,
        answer: Answer,
        fault: Fault | None,
        started: float,
    ) -> None:
        self.pause_until(started + self.latency.sample_seconds())
        handler.start_stream(request_id)
        handler.write_chunk(encode_event(*stream_head()))
        token_delay = self.config.stream_token_delay_ms / 1000
        for index, chunk in enumerate(stream_chunks(answer)):
            if index:
                self.pause(token_delay)
            handler.write_chunk(encode_event(*stream_delta(chunk)))
            if fault is not None and fault.kind == "stall":
                if index == 0:  # silence after the first chunk, then the rest as usual
                    stall = fault.delay_seconds
                    self.pause(self.config.stall_seconds if stall is None else stall)
            elif fault is not None:
                error = ERRORS[fault.kind]
                self.pause(fault.delay_seconds or 0.0)
                exception_type = error.stream_exception_type or "modelStreamErrorException"
                message = fault.message or error.message
                handler.write_chunk(encode_exception(exception_type, message))
                break
        else:
            latency_ms = round((time.monotonic() - started) * 1000)
            for event in stream_tail(answer, latency_ms):
                handler.write_chunk(encode_event(*event))
        handler.write_chunk(b"")


def _invoke_headers(answer: Answer, latency_ms: int) -> dict[str, str]:
    return {
        "X-Amzn-Bedrock-Invocation-Latency": str(latency_ms),
        "X-Amzn-Bedrock-Input-Token-Count": str(answer.input_tokens),
        "X-Amzn-Bedrock-Output-Token-Count": str(answer.output_tokens),
    }
