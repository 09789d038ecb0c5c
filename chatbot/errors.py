"""The errors the service answers with: each carries its HTTP status, stable code and safe text."""

from __future__ import annotations


class ChatError(Exception):
    """An error whose status, code and message are safe to show to the browser as they are."""

    status: int = 500
    code: str = "internal_error"
    default_message: str = "The assistant hit an unexpected problem. Please try again."

    def __init__(
        self, message: str | None = None, retry_after: int | None = None, scope: str = ""
    ) -> None:
        self.message = message or self.default_message
        self.retry_after = retry_after
        self.scope = scope  # which limit or upstream condition, for metrics and logs only
        super().__init__(self.message)


class InvalidJson(ChatError):
    status, code = 400, "invalid_json"
    default_message = "The request body is not valid JSON."


class Unauthorized(ChatError):
    status, code = 401, "unauthorized"
    default_message = "This request needs a valid session token. Reload the page and try again."


class TokenExpired(ChatError):
    status, code = 401, "token_expired"
    default_message = "The session token has expired. Ask for a new one and try again."


class Forbidden(ChatError):
    status, code = 403, "forbidden"
    default_message = "This request is not allowed."


class OriginNotAllowed(ChatError):
    status, code = 403, "origin_not_allowed"
    default_message = "This site is not allowed to use the assistant."


class RequestTimeout(ChatError):
    status, code = 408, "request_timeout"
    default_message = "The request body arrived too slowly."


class PayloadTooLarge(ChatError):
    status, code = 413, "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(ChatError):
    status, code = 415, "unsupported_media_type"
    default_message = "Send the request body as application/json."


class InvalidRequest(ChatError):
    status, code = 422, "invalid_request"
    default_message = "The request is not valid."


class ClientRateLimited(ChatError):
    status, code = 429, "rate_limited"
    default_message = "Too many questions in a short time. Please wait a moment and try again."


class ServiceBusy(ChatError):
    status, code = 429, "service_busy"
    default_message = "The assistant is busy right now. Please try again in a moment."


class ModelThrottled(ChatError):
    status, code = 503, "model_throttled"
    default_message = "The assistant is receiving too many questions. Please try again shortly."


class ModelUnavailable(ChatError):
    status, code = 503, "model_unavailable"
    default_message = "The assistant is temporarily unavailable. Please try again shortly."


class BudgetExhausted(ChatError):
    status, code = 503, "budget_exhausted"
    default_message = "The assistant has used up today's budget. Please try again later."


class BadUpstreamResponse(ChatError):
    status, code = 502, "bad_upstream_response"
    default_message = "The assistant could not produce an answer. Please try again."


class DeadlineExceeded(ChatError):
    status, code = 504, "deadline_exceeded"
    default_message = "The assistant took too long to answer. Please try again."


class NotFound(ChatError):
    status, code = 404, "not_found"
    default_message = "There is nothing at this address."


class MethodNotAllowed(ChatError):
    status, code = 405, "method_not_allowed"
    default_message = "This address does not accept that method."


def error_body(error: ChatError, request_id: str) -> dict[str, str]:
    """The one JSON shape every error response has."""
    return {"error": error.code, "message": error.message, "request_id": request_id}
