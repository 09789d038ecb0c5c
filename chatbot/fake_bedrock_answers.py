"""The fake model's deterministic answers, and the response bodies that carry them.

The answer echoes the user's question and the page it was asked about, found in the prompt by
the marker convention documented in `chatbot.fake_bedrock`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from chatbot.fake_bedrock_requests import ModelRequest, estimate_tokens

ANSWER_PREFIX = "[fake-bedrock]"
_PAGE_TAG = re.compile(r"<page\b([^>]*)>", re.IGNORECASE)
_PAGE_BLOCK = re.compile(r"<page\b[^>]*>.*</page>", re.IGNORECASE | re.DOTALL)
_ATTRIBUTE = re.compile(r"""([A-Za-z_:][-\w:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_QUESTION = re.compile(r"<question>(.*?)</question>", re.IGNORECASE | re.DOTALL)
_WORD_WITH_SPACE = re.compile(r"\S+\s*")


@dataclass(frozen=True)
class PageRef:
    """The page attributes the prompt names; either may be empty."""

    url: str = ""
    title: str = ""


@dataclass(frozen=True)
class Answer:
    text: str
    stop_reason: str  # Converse spelling: end_turn or max_tokens
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _page_in(text: str) -> PageRef | None:
    tag = _PAGE_TAG.search(text)
    if tag is None:
        return None
    attributes = {
        name.lower(): html.unescape(double if double else single)
        for name, double, single in _ATTRIBUTE.findall(tag.group(1))
    }
    return PageRef(url=attributes.get("url", ""), title=attributes.get("title", ""))


def find_page(request: ModelRequest) -> PageRef | None:
    """The first `<page ...>` tag of the last user turn, else of the system prompt.

    The first tag wins so that a `<page>` tag injected inside the page text cannot override the
    one the service wrote around it.
    """
    return _page_in(request.last_user_text) or _page_in(request.system_text)


def find_question(request: ModelRequest) -> str:
    """The `<question>` of the last user turn, else that turn without its `<page>` block."""
    text = request.last_user_text
    tagged = _QUESTION.search(text)
    question = tagged.group(1) if tagged else _PAGE_BLOCK.sub(" ", text)
    return " ".join(question.split())


def compose_answer(request: ModelRequest) -> Answer:
    """Echo the question and page; cut at the request's token budget like a real model."""
    question = find_question(request)
    page = find_page(request)
    if page is None or not (page.title or page.url):
        where = "with no page in the prompt"
    elif page.title and page.url:
        where = f"about page '{page.title}' ({page.url})"
    else:
        where = f"about page '{page.title or page.url}'"
    text = f"{ANSWER_PREFIX} You asked: '{question}' {where}."
    stop_reason = "end_turn"
    if estimate_tokens(text) > request.max_tokens:
        text = text[: request.max_tokens * 4]
        stop_reason = "max_tokens"
    return Answer(text, stop_reason, request.input_tokens, estimate_tokens(text))


def usage(answer: Answer) -> dict[str, int]:
    return {
        "inputTokens": answer.input_tokens,
        "outputTokens": answer.output_tokens,
        "totalTokens": answer.total_tokens,
    }


def converse_response(answer: Answer, latency_ms: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": answer.text}]}},
        "stopReason": answer.stop_reason,
        "usage": usage(answer),
        "metrics": {"latencyMs": latency_ms},
    }


def claude_messages_response(answer: Answer, model_id: str, message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model_id.rsplit("/", 1)[-1].split("anthropic.", 1)[-1].split("-v", 1)[0],
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": answer.stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


def text_completion_response(answer: Answer) -> dict[str, Any]:
    finished = answer.stop_reason == "end_turn"
    return {
        "completion": " " + answer.text,
        "stop_reason": "stop_sequence" if finished else "max_tokens",
        "stop": "\n\nHuman:" if finished else None,
    }


def stream_chunks(answer: Answer) -> list[str]:
    """One word (with its trailing space) per contentBlockDelta, as models stream tokens."""
    return _WORD_WITH_SPACE.findall(answer.text) or [answer.text]


def stream_head() -> tuple[str, dict[str, Any]]:
    return "messageStart", {"role": "assistant"}


def stream_delta(chunk: str) -> tuple[str, dict[str, Any]]:
    return "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": chunk}}


def stream_tail(answer: Answer, latency_ms: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": answer.stop_reason}),
        ("metadata", {"usage": usage(answer), "metrics": {"latencyMs": latency_ms}}),
    ]
