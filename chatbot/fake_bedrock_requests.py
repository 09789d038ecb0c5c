"""Request bodies the fake Bedrock accepts, validated the way Bedrock validates them.

Converse has one body for every model. InvokeModel's body is the model provider's own: Claude 3
and later take only the Messages body (`anthropic_version`, `max_tokens`, `messages`), the
legacy Claude 2 / Instant models only the Text Completions body (`prompt` starting with
"\\n\\nHuman:", `max_tokens_to_sample`). Anything else is a 400 ValidationException whose message
follows Bedrock's "Malformed input request: #: ..., please reformat your input and try again."
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

BodyFormat = Literal["converse", "claude_messages", "claude_text_completion"]

ANTHROPIC_VERSION = "bedrock-2023-05-31"
LEGACY_TEXT_COMPLETION_MODELS = ("anthropic.claude-v2", "anthropic.claude-instant-v1")
_MESSAGES_KEYS = {"anthropic_version", "max_tokens", "messages"}
_MESSAGES_OPTIONAL = {
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
    "anthropic_beta",
}
_COMPLETION_KEYS = {"prompt", "max_tokens_to_sample"}
_COMPLETION_OPTIONAL = {"temperature", "top_p", "top_k", "stop_sequences", "anthropic_version"}
HUMAN_TURN = "\n\nHuman:"
ASSISTANT_TURN = "\n\nAssistant:"


class InvalidModelRequest(ValueError):
    """The body is not valid for the operation or model: Bedrock answers 400 ValidationException."""


@dataclass(frozen=True)
class ModelRequest:
    """What the fake model needs from any body: the prompt, as text, and the output budget."""

    body_format: BodyFormat
    system_text: str
    turns: tuple[tuple[str, str], ...]  # (role, text) in order
    max_tokens: int

    @cached_property  # read several times per request
    def prompt_text(self) -> str:
        """System prompt and every turn, joined: what the model would read."""
        return "\n".join([self.system_text, *(text for _, text in self.turns)])

    @cached_property
    def input_tokens(self) -> int:
        return estimate_tokens(self.prompt_text)

    @property
    def last_user_text(self) -> str:
        return next((text for role, text in reversed(self.turns) if role == "user"), "")


def estimate_tokens(text: str) -> int:
    """About four characters per token, Anthropic's rule of thumb for English text."""
    return math.ceil(len(text) / 4)


def _load_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidModelRequest(
            "Malformed input request, please reformat your input and try again."
        ) from None
    if not isinstance(body, dict):
        raise InvalidModelRequest(
            "Malformed input request: #: expected type: JSONObject, found: "
            f"{type(body).__name__}, please reformat your input and try again."
        )
    return body


def _schema_error(violations: list[str]) -> InvalidModelRequest:
    return InvalidModelRequest(
        f"Malformed input request: {''.join(violations)}, please reformat your input and try again."
    )


def _key_violations(body: dict[str, Any], required: set[str], optional: set[str]) -> list[str]:
    missing = [f"#: required key [{key}] not found" for key in sorted(required - body.keys())]
    extra = [
        f"#: extraneous key [{key}] is not permitted"
        for key in sorted(body.keys() - required - optional)
    ]
    return missing + extra


def _check_max_tokens(value: Any, field: str, model_max_tokens: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _schema_error([f"#/{field}: expected minimum: 1 and an integer, found: {value!r}"])
    if value > model_max_tokens:
        raise InvalidModelRequest(
            f"The maximum tokens you requested exceeds the model limit of {model_max_tokens}. "
            f"Try again with a maximum tokens value that is lower than {model_max_tokens}."
        )
    return value


def _check_alternation(roles: list[str], first_message: str, alternate_message: str) -> None:
    if not roles or roles[0] != "user":
        raise InvalidModelRequest(first_message)
    if any(role not in {"user", "assistant"} for role in roles):
        raise InvalidModelRequest(alternate_message)
    if any(current == previous for previous, current in itertools.pairwise(roles)):
        raise InvalidModelRequest(alternate_message)


def parse_converse(raw: bytes, model_max_tokens: int) -> ModelRequest:
    """Validate a Converse / ConverseStream body; botocore has already checked the shapes."""
    body = _load_json_object(raw)
    messages = body.get("messages") or []
    _check_alternation(
        [message.get("role", "") for message in messages],
        "A conversation must start with a user message. Try again with a conversation that "
        "starts with a user message.",
        "A conversation must alternate between user and assistant roles. Make sure the "
        "conversation alternates between user and assistant roles and try again.",
    )
    turns = []
    for index, message in enumerate(messages):
        blocks = message.get("content") or []
        if not blocks:
            raise InvalidModelRequest(
                f"The content field in the Message object at messages.{index} is empty. "
                "Add a ContentBlock object to the content field and try again."
            )
        texts = [block["text"] for block in blocks if "text" in block]
        for position, text in enumerate(texts):
            if not text.strip():
                raise InvalidModelRequest(
                    f"The text field in the ContentBlock object at messages.{index}.content."
                    f"{position} is blank. Add text to the text field, and try again."
                )
        turns.append((message["role"], "\n".join(texts)))
    system_text = "\n".join(block["text"] for block in body.get("system") or [] if "text" in block)
    inference = body.get("inferenceConfig") or {}
    max_tokens = _check_max_tokens(
        inference.get("maxTokens", model_max_tokens), "inferenceConfig/maxTokens", model_max_tokens
    )
    return ModelRequest("converse", system_text, tuple(turns), max_tokens)


def _anthropic_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(block, dict) for block in content):
        return "\n".join(block.get("text", "") for block in content if block.get("type") == "text")
    raise _schema_error([f"#/{where}: expected type: String or JSONArray of content blocks"])


def _parse_claude_messages(body: dict[str, Any], model_max_tokens: int) -> ModelRequest:
    violations = _key_violations(body, _MESSAGES_KEYS, _MESSAGES_OPTIONAL)
    if violations:
        raise _schema_error(violations)
    if body["anthropic_version"] != ANTHROPIC_VERSION:
        raise InvalidModelRequest(f"invalid anthropic_version, use {ANTHROPIC_VERSION!r}")
    max_tokens = _check_max_tokens(body["max_tokens"], "max_tokens", model_max_tokens)
    messages = body["messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise _schema_error(["#/messages: expected type: JSONArray of message objects"])
    _check_alternation(
        [message.get("role", "") for message in messages],
        'messages: the first message must use the "user" role',
        'messages: roles must alternate between "user" and "assistant"',
    )
    turns = tuple(
        (message["role"], _anthropic_text(message.get("content"), f"messages/{index}/content"))
        for index, message in enumerate(messages)
    )
    system_text = _anthropic_text(body.get("system", ""), "system")
    return ModelRequest("claude_messages", system_text, turns, max_tokens)


def _parse_claude_text_completion(body: dict[str, Any], model_max_tokens: int) -> ModelRequest:
    violations = _key_violations(body, _COMPLETION_KEYS, _COMPLETION_OPTIONAL)
    if violations:
        raise _schema_error(violations)
    prompt = body["prompt"]
    max_tokens = _check_max_tokens(
        body["max_tokens_to_sample"], "max_tokens_to_sample", model_max_tokens
    )
    if not isinstance(prompt, str) or not prompt.startswith(HUMAN_TURN):
        raise InvalidModelRequest('prompt must start with "\\n\\nHuman:" turn')
    if not prompt.rstrip().endswith(ASSISTANT_TURN.strip()):
        raise InvalidModelRequest('prompt must end with "\\n\\nAssistant:" turn')
    human_text = prompt.rsplit(HUMAN_TURN, 1)[1].rsplit(ASSISTANT_TURN, 1)[0].strip()
    return ModelRequest("claude_text_completion", "", (("user", human_text),), max_tokens)


def is_legacy_text_completion_model(model_id: str) -> bool:
    return any(legacy in model_id for legacy in LEGACY_TEXT_COMPLETION_MODELS)


def parse_invoke(model_id: str, raw: bytes, model_max_tokens: int) -> ModelRequest:
    """Validate an InvokeModel body against the body format of the model it names."""
    body = _load_json_object(raw)
    if "anthropic." not in model_id:
        raise InvalidModelRequest(
            f"The fake Bedrock only models Anthropic bodies for InvokeModel, not {model_id!r}; "
            "use Converse for other models."
        )
    if is_legacy_text_completion_model(model_id):
        return _parse_claude_text_completion(body, model_max_tokens)
    return _parse_claude_messages(body, model_max_tokens)
