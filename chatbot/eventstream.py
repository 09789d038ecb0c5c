"""Encoder for the AWS event-stream framing (`application/vnd.amazon.eventstream`).

botocore decodes event streams (ConverseStream's response) but has no encoder, so the fake
Bedrock writes frames itself. A frame is::

    prelude   total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes (uint32)
    headers   name length (uint8) | name | type (uint8, 7 = string) | value length (uint16) | value
    payload   the event body (JSON here)
    trailer   CRC32 of everything before it (uint32)

All integers are big-endian. Only string headers are written: the three Bedrock needs
(`:event-type` or `:exception-type`, `:content-type`, `:message-type`) are strings.
"""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Mapping
from typing import Any

STRING_HEADER_TYPE = 7
PRELUDE_LENGTH = 12
TRAILER_LENGTH = 4
# The limits botocore's decoder enforces; a frame past them would be rejected by the client.
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
_MAX_HEADER_NAME_LENGTH = 255
_MAX_STRING_VALUE_LENGTH = 2**15 - 1


class EventStreamEncodingError(ValueError):
    """A header or payload does not fit the event-stream frame limits."""


def _crc32(data: bytes, previous: int = 0) -> int:
    return binascii.crc32(data, previous) & 0xFFFFFFFF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """Encode string headers in the order given."""
    encoded = bytearray()
    for name, value in headers.items():
        name_bytes = name.encode("utf-8")
        value_bytes = value.encode("utf-8")
        if not 0 < len(name_bytes) <= _MAX_HEADER_NAME_LENGTH:
            raise EventStreamEncodingError(f"header name {name!r} must be 1-255 bytes")
        if len(value_bytes) > _MAX_STRING_VALUE_LENGTH:
            raise EventStreamEncodingError(f"header {name!r} value is over 32767 bytes")
        encoded += struct.pack(">B", len(name_bytes)) + name_bytes
        encoded += struct.pack(">BH", STRING_HEADER_TYPE, len(value_bytes)) + value_bytes
    return bytes(encoded)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """Frame one message: prelude, prelude CRC, headers, payload, message CRC."""
    encoded_headers = encode_headers(headers)
    if len(encoded_headers) > MAX_HEADERS_LENGTH:
        raise EventStreamEncodingError(f"headers are {len(encoded_headers)} bytes, over 128 KiB")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise EventStreamEncodingError(f"payload is {len(payload)} bytes, over 24 MiB")
    total_length = PRELUDE_LENGTH + len(encoded_headers) + len(payload) + TRAILER_LENGTH
    prelude = struct.pack(">II", total_length, len(encoded_headers))
    framed = prelude + struct.pack(">I", _crc32(prelude)) + encoded_headers + payload
    return framed + struct.pack(">I", _crc32(framed))


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def encode_event(event_type: str, body: Mapping[str, Any]) -> bytes:
    """An `event` message, e.g. `contentBlockDelta` with `{"delta": {"text": ...}, ...}`."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, _json_bytes(body))


def encode_exception(exception_type: str, message: str) -> bytes:
    """An `exception` message, e.g. `throttlingException`, which botocore raises mid-iteration."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, _json_bytes({"message": message}))
