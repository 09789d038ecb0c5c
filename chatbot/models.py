"""Request and response bodies of the chat API, with the field limits the widget must respect."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MESSAGE_CHARS = 2_000
MAX_URL_CHARS = 2_048
MAX_TITLE_CHARS = 300
MAX_PAGE_TEXT_CHARS = 40_000
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{8,128}$"

# Line breaks and tabs are ordinary in typed questions and in a page's visible text, so the
# text rules allow them and the one-line rules (URL, title) do not.

# The same rules as the validators below, published in the OpenAPI schema so that clients and
# schema-driven test generators know them; the validators enforce them with clearer messages.
_TEXT_CHARS = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
TEXT_PATTERN = rf"^{_TEXT_CHARS}*$"
MESSAGE_PATTERN = rf"^{_TEXT_CHARS}*[^\s\x00-\x1f\x7f-\x9f]{_TEXT_CHARS}*$"
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
URL_PATTERN = (
    r"^[hH][tT][tT][pP][sS]?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?"
    r"([/?][^\s\x00-\x1f\x7f-\x9f]*)?$"
)


# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F; Cs is U+D800-U+DFFF.
_UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSAFE_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


# The same characters as the patterns above, for the ASCII fast path: C0 controls and DEL
# (line feed, carriage return and tab are allowed by the text rule only).
_ASCII_UNSAFE = {
    _UNSAFE_IN_TEXT: bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]),
    _UNSAFE_IN_LINE: bytes([*range(0x20), 0x7F]),
}


def _reject_unsafe_characters(value: str, unsafe: re.Pattern[str]) -> str:
    """Refuse control characters (NUL, escape codes...) and lone surrogates from JSON escapes."""
    if value.isascii():
        # Deleting the unsafe bytes from the ASCII text is ~5x faster than the pattern search on
        # a 22,000-character page; only a text that has one goes on to the search for the message.
        data = value.encode("ascii")
        if len(data.translate(None, _ASCII_UNSAFE[unsafe])) == len(data):
            return value
    found = unsafe.search(value)
    if found is None:
        return value
    character = found.group()
    if unicodedata.category(character) == "Cs":
        raise ValueError("contains an unpaired UTF-16 surrogate")
    raise ValueError(f"contains the control character U+{ord(character):04X}")


class _StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PageContext(_StrictBody):
    """What the user is looking at, as the widget read it from the page."""

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_CHARS,
        description="http(s) URL of the page",
        json_schema_extra={"pattern": URL_PATTERN},
    )
    title: str = Field(
        max_length=MAX_TITLE_CHARS,
        description="The page's title, on one line",
        json_schema_extra={"pattern": LINE_PATTERN},
    )
    text: str = Field(
        max_length=MAX_PAGE_TEXT_CHARS,
        description="The page's visible text (line breaks and tabs allowed)",
        json_schema_extra={"pattern": TEXT_PATTERN},
    )

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        _reject_unsafe_characters(value, _UNSAFE_IN_LINE)
        if any(character.isspace() for character in value):
            raise ValueError("must not contain spaces")
        try:
            parts = urlsplit(value)
            hostname = parts.hostname
        except ValueError as error:
            raise ValueError("is not a valid URL") from error
        if parts.scheme.lower() not in {"http", "https"}:
            raise ValueError("must start with http:// or https://")
        if not hostname:
            raise ValueError("must name a host")
        return value

    @field_validator("title")
    @classmethod
    def _title_is_one_line(cls, value: str) -> str:
        return _reject_unsafe_characters(value, _UNSAFE_IN_LINE)

    @field_validator("text")
    @classmethod
    def _text_is_printable(cls, value: str) -> str:
        return _reject_unsafe_characters(value, _UNSAFE_IN_TEXT)


class ChatRequest(_StrictBody):
    """One question from the widget, with the page it was asked on."""

    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description="The question; some visible text, no control characters but line breaks",
        json_schema_extra={"pattern": MESSAGE_PATTERN},
    )
    page: PageContext
    session_id: str = Field(
        pattern=SESSION_ID_PATTERN, description="Random id the widget keeps per browser tab"
    )

    @field_validator("message")
    @classmethod
    def _message_has_text(cls, value: str) -> str:
        _reject_unsafe_characters(value, _UNSAFE_IN_TEXT)
        if not value.strip():
            raise ValueError("must contain some text")
        return value


class ChatResponse(BaseModel):
    """The assistant's whole answer."""

    answer: str
    request_id: str


class ErrorResponse(BaseModel):
    """The body of every error: a stable code, a message for people, the id to quote to support."""

    error: str
    message: str
    request_id: str


class HealthResponse(BaseModel):
    """Liveness or readiness, with the checks behind a readiness verdict."""

    status: str
    checks: dict[str, str] = Field(default_factory=dict)
