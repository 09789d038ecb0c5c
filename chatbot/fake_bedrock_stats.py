"""What the fake Bedrock saw: calls per operation, errors per code and the last request bodies."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received, with what the fake did about it."""

    operation: str  # Converse, ConverseStream or InvokeModel
    model_id: str  # percent-decoded
    body: Any  # the parsed JSON body, or None when it was not JSON
    prompt: str | None  # system prompt and turns as the model reads them; None when invalid
    region: str | None  # from the SigV4 credential scope
    outcome: str  # "ok", "stall+ok", "malformed" or the error code sent


class FakeStats:
    """Thread-safe counters; the properties return copies so readers never see a torn update."""

    def __init__(self, keep_last: int = 1000) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._requests: deque[RecordedRequest] = deque(maxlen=keep_last)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._calls[request.operation] += 1
            if request.outcome not in {"ok", "stall+ok", "malformed"}:
                self._errors[request.outcome] += 1
            self._requests.append(request)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._errors.clear()
            self._requests.clear()

    @property
    def calls(self) -> Counter[str]:
        """Requests received per operation, answered or not (retries count, one each)."""
        with self._lock:
            return Counter(self._calls)

    @property
    def errors(self) -> Counter[str]:
        """Error responses sent per error code, e.g. `ThrottlingException`."""
        with self._lock:
            return Counter(self._errors)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The most recent requests (up to `keep_last`), oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._requests[-1] if self._requests else None
