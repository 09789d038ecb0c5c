"""How each Bedrock failure maps to a retry decision, a circuit-breaker verdict and an HTTP error.

Upstream messages never reach the browser: they can name accounts, model ARNs or quotas. The
visitor gets the stable code and the fixed message of the mapped ChatError; the log gets the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as SocketReadTimeoutError

from chatbot.errors import (
    BadUpstreamResponse,
    ChatError,
    DeadlineExceeded,
    ModelThrottled,
    ModelUnavailable,
)

THROTTLED_RETRY_AFTER_SECONDS = 2
UNAVAILABLE_RETRY_AFTER_SECONDS = 5

_THROTTLING_CODES = frozenset(
    {"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"}
)
_TRANSIENT_CODES = frozenset(
    {"ModelNotReadyException", "ServiceUnavailableException", "InternalServerException"}
)
# Credentials, permissions or the model id are wrong: retrying cannot help, failing fast can.
_CONFIGURATION_CODES = frozenset(
    {
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
        "InvalidSignatureException",
    }
)
_REJECTED_CODES = frozenset(
    {"ValidationException", "ModelErrorException", "ModelStreamErrorException"}
)


@dataclass(frozen=True)
class UpstreamFailure:
    """A classified failure: what to tell the visitor and what the service should do next."""

    outcome: str  # metric label: throttled, transient, timeout, configuration, rejected, ...
    error: ChatError
    retryable: bool
    breaker_failure: bool  # counts towards opening the circuit
    detail: str  # for logs only
    aws_request_id: str | None = None  # Bedrock's id for the failed call, for logs only

    @property
    def calls_for_fallback(self) -> bool:
        """The model (not our request) is the problem: another model may well answer."""
        return self.outcome in {"throttled", "transient", "connection"}


def aws_request_id_of(error: BaseException) -> str | None:
    """Bedrock's request id from an error response (AWS support asks for it), if there was one."""
    if isinstance(error, ClientError):
        metadata = error.response.get("ResponseMetadata", {})
        return metadata.get("RequestId") or metadata.get("HTTPHeaders", {}).get("x-amzn-requestid")
    return None


def _classify_client_error(error: ClientError) -> UpstreamFailure:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    detail = f"{code or status}: {error.response.get('Error', {}).get('Message', '')}"[:300]
    if code in _THROTTLING_CODES or (status == 429 and code not in _TRANSIENT_CODES):
        throttled = ModelThrottled(retry_after=THROTTLED_RETRY_AFTER_SECONDS, scope="upstream")
        return UpstreamFailure("throttled", throttled, True, False, detail)
    if code == "ModelTimeoutException":
        timeout = DeadlineExceeded(scope="model_timeout")
        return UpstreamFailure("model_timeout", timeout, False, True, detail)
    unavailable = ModelUnavailable(retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS)
    if code in _TRANSIENT_CODES or status >= 500:
        return UpstreamFailure("transient", unavailable, True, True, detail)
    if code in _CONFIGURATION_CODES:
        return UpstreamFailure("configuration", unavailable, False, True, detail)
    if code in _REJECTED_CODES:
        return UpstreamFailure("rejected", BadUpstreamResponse(), False, False, detail)
    return UpstreamFailure("unexpected", unavailable, False, True, detail)


def classify(error: BaseException) -> UpstreamFailure:
    """Classify anything the boto3 call (or reading its event stream) raised."""
    if isinstance(error, ClientError):
        return replace(_classify_client_error(error), aws_request_id=aws_request_id_of(error))
    detail = f"{type(error).__name__}: {error}"[:300]
    unavailable = ModelUnavailable(retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS)
    # An event stream is read straight from urllib3, so a stalled stream raises urllib3's own
    # read timeout, not botocore's: both mean the model went quiet, not that it answered garbage.
    if isinstance(error, ReadTimeoutError | SocketReadTimeoutError | TimeoutError):
        return UpstreamFailure("read_timeout", DeadlineExceeded(), False, True, detail)
    if isinstance(
        error,
        ConnectTimeoutError | EndpointConnectionError | ConnectionClosedError | ProtocolError,
    ):
        return UpstreamFailure("connection", unavailable, True, True, detail)
    if isinstance(error, BotoCoreError):
        return UpstreamFailure("client", unavailable, False, True, detail)
    return UpstreamFailure("malformed", BadUpstreamResponse(), False, True, detail)


def deadline_failure() -> UpstreamFailure:
    return UpstreamFailure("deadline", DeadlineExceeded(), False, True, "deadline passed")


def stream_stalled_failure(gap_seconds: float, aws_request_id: str | None) -> UpstreamFailure:
    """The stream went quiet for longer than the gap limit after it had started."""
    return UpstreamFailure(
        "stream_stalled",
        DeadlineExceeded(scope="stream_gap"),
        False,
        True,
        f"no event for {gap_seconds:.1f} s",
        aws_request_id,
    )
