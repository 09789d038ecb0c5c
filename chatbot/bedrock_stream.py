"""ConverseStream plumbing: a pool thread reads Bedrock's event stream into an asyncio queue.

boto3 is blocking, so the event stream is iterated in the same bounded pool as every other call;
the event loop only awaits the queue, with a deadline for the first token and a gap limit after.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from chatbot.upstream_errors import UpstreamFailure, classify, stream_stalled_failure


class MalformedUpstreamResponse(ValueError):
    """Bedrock answered 200 with a body that lacks what the API promises."""


@dataclass
class StreamUsage:
    """What the final `metadata` and `messageStop` events reported."""

    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str = ""


class StreamSink:
    """Hands events from the reading thread to the event loop; the loop can ask it to stop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._cancelled = threading.Event()
        # Set by the reading thread before it forwards any event, so it is known by then.
        self.aws_request_id: str | None = None

    def put(self, kind: str, payload: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, (kind, payload))
        except RuntimeError:  # the loop closed during shutdown: nobody is listening
            self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()


def read_event_stream(open_stream: Callable[[], dict[str, Any]], sink: StreamSink) -> None:
    """Runs in a pool thread: open the stream, forward each event, always close the socket."""
    try:
        response = open_stream()
        sink.aws_request_id = response.get("ResponseMetadata", {}).get("RequestId")
        events = response["stream"]
    except BaseException as error:
        sink.put("error", error)
        return
    try:
        for event in events:
            if sink.cancelled:
                break
            sink.put("event", event)
        sink.put("end", None)
    except BaseException as error:
        sink.put("error", error)
    finally:
        events.close()


def delta_text(event: dict[str, Any]) -> str | None:
    delta = event.get("contentBlockDelta")
    if delta is None:
        return None
    text = delta.get("delta", {}).get("text")
    if text is not None and not isinstance(text, str):
        raise MalformedUpstreamResponse("contentBlockDelta text is not a string")
    return text


def note_usage(event: dict[str, Any], usage: StreamUsage) -> None:
    if "messageStop" in event:
        usage.stop_reason = str(event["messageStop"].get("stopReason", ""))
    if "metadata" in event:
        tokens = event["metadata"].get("usage", {})
        usage.input_tokens = int(tokens.get("inputTokens", 0))
        usage.output_tokens = int(tokens.get("outputTokens", 0))


@dataclass
class AnswerStream:
    """An answer whose first text has arrived; iterate for the rest, then read `usage`."""

    first_text: str
    sink: StreamSink
    gap_seconds: float
    expires_at: float
    attempts: int
    upstream_seconds: float
    model_id: str = ""
    usage: StreamUsage = field(default_factory=StreamUsage)
    finished: bool = False
    failure: UpstreamFailure | None = None  # set when the stream broke after it started

    async def rest(self) -> AsyncIterator[str]:
        """The remaining text chunks; raises the mapped ChatError if the stream breaks."""
        while not self.finished:
            timeout = min(self.gap_seconds, self.expires_at - time.monotonic())
            try:
                kind, payload = await asyncio.wait_for(self.sink.queue.get(), max(timeout, 0))
            except TimeoutError:
                self.close()
                self.failure = stream_stalled_failure(self.gap_seconds, self.sink.aws_request_id)
                raise self.failure.error from None
            if kind == "end":
                self.finished = True
            elif kind == "error":
                self.finished = True
                failure = classify(payload)
                self.failure = replace(
                    failure, aws_request_id=failure.aws_request_id or self.sink.aws_request_id
                )
                raise self.failure.error
            else:
                try:
                    text = delta_text(payload)
                    note_usage(payload, self.usage)
                except (MalformedUpstreamResponse, AttributeError, TypeError, ValueError) as error:
                    self.close()
                    failure = classify(MalformedUpstreamResponse(str(error)))
                    self.failure = replace(failure, aws_request_id=self.sink.aws_request_id)
                    raise self.failure.error from None
                if text:
                    yield text

    def close(self) -> None:
        self.finished = True
        self.sink.cancel()


@dataclass(frozen=True)
class FirstChunk:
    """The events up to the first text (or to the end of an empty answer)."""

    text: str
    events: list[dict[str, Any]]
    ended: bool


async def first_chunk(sink: StreamSink) -> FirstChunk:
    """Wait for the first text delta; an error before it propagates, to be retried or mapped."""
    events: list[dict[str, Any]] = []
    while True:
        kind, payload = await sink.queue.get()
        if kind == "error":
            raise payload
        if kind == "end":
            return FirstChunk("", events, ended=True)
        events.append(payload)
        text = delta_text(payload)
        if text:
            return FirstChunk(text, events, ended=False)
