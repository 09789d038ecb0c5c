"""The event-stream encoder writes frames botocore's own decoder accepts, byte for byte."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from chatbot.eventstream import (
    EventStreamEncodingError,
    encode_event,
    encode_exception,
    encode_message,
)


def _decode_all(data: bytes, piece: int = 1) -> list:
    buffer = EventStreamBuffer()
    messages = []
    for start in range(0, len(data), piece):
        buffer.add_data(data[start : start + piece])
        messages.extend(buffer)
    return messages


def test_event_round_trips_through_botocore_decoder_fed_byte_by_byte() -> None:
    body = {"contentBlockIndex": 0, "delta": {"text": "héllo ✓ "}}

    (message,) = _decode_all(encode_event("contentBlockDelta", body))

    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == body


def test_consecutive_frames_decode_as_separate_messages_in_order() -> None:
    frames = b"".join(encode_event(f"event{index}", {"n": index}) for index in range(5))

    messages = _decode_all(frames, piece=7)

    assert [json.loads(message.payload)["n"] for message in messages] == [0, 1, 2, 3, 4]
    assert [message.headers[":event-type"] for message in messages] == [
        f"event{index}" for index in range(5)
    ]


def test_exception_frame_carries_exception_type_and_message() -> None:
    (message,) = _decode_all(encode_exception("throttlingException", "Too many requests"))

    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "throttlingException"
    assert json.loads(message.payload) == {"message": "Too many requests"}
    assert message.to_response_dict()["status_code"] == 400


def test_empty_payload_and_no_headers_still_form_a_valid_frame() -> None:
    (message,) = _decode_all(encode_message({}, b""))

    assert message.headers == {}
    assert message.payload == b""


def test_a_flipped_byte_fails_botocore_checksum() -> None:
    frame = bytearray(encode_event("messageStart", {"role": "assistant"}))
    frame[-6] ^= 0x01  # inside the payload: only the message CRC can catch it

    with pytest.raises(ChecksumMismatch):
        _decode_all(bytes(frame), piece=len(frame))


def test_header_value_over_the_string_limit_is_refused() -> None:
    with pytest.raises(EventStreamEncodingError, match="32767"):
        encode_message({":event-type": "x" * 40_000}, b"{}")
