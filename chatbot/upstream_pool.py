"""A cap on how many Bedrock calls may be in flight at once, and the deadline they share.

Calls run on the event loop (`bedrock_async.py`); a semaphore admits at most
`max_concurrent_upstream` of them, waiting `admission_wait_seconds` at most for a slot. A slot
is held until the call really ends: a stream's reader task keeps its slot until the stream is
read or cancelled, so abandoned streams cannot pile up past the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from chatbot.errors import ServiceBusy
from chatbot.observability import ChatMetrics
from chatbot.settings import ChatbotSettings

T = TypeVar("T")


class Deadline:
    """The moment a request must be answered by; every upstream attempt shares it.

    It starts when the question is ready to go upstream (body read, caller admitted, prompt
    built): time a client spends sending its body is the client's, not the model's.
    """

    def __init__(self, seconds: float, started_at: float | None = None) -> None:
        self.expires_at = (time.monotonic() if started_at is None else started_at) + seconds

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()


class UpstreamPool:
    """Admits a bounded number of upstream calls at a time."""

    def __init__(self, settings: ChatbotSettings, metrics: ChatMetrics) -> None:
        self._admission_wait_seconds = settings.admission_wait_seconds
        self._metrics = metrics
        self._slots = asyncio.Semaphore(settings.max_concurrent_upstream)

    async def _admit(self, deadline: Deadline) -> None:
        if self._slots.locked():
            wait = min(self._admission_wait_seconds, max(deadline.remaining(), 0))
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=wait)
            except TimeoutError:
                self._metrics.throttles.labels("concurrency").inc()
                raise ServiceBusy(retry_after=1, scope="concurrency") from None
        else:
            await self._slots.acquire()
        self._metrics.upstream_in_flight.inc()

    def _release_slot(self) -> None:
        self._slots.release()
        self._metrics.upstream_in_flight.dec()

    @contextlib.asynccontextmanager
    async def slot(self, deadline: Deadline) -> AsyncIterator[None]:
        """Hold a slot for a call awaited in place; cancelling the call frees it."""
        await self._admit(deadline)
        try:
            yield
        finally:
            self._release_slot()

    async def spawn(self, work: Coroutine[Any, Any, T], deadline: Deadline) -> asyncio.Task[T]:
        """Start `work` as a task once a slot is free; the slot comes back when the task ends."""
        try:
            await self._admit(deadline)
        except BaseException:
            work.close()  # never started: no "coroutine was never awaited" warning
            raise

        async def holding_the_slot() -> T:
            try:
                return await work
            finally:
                self._release_slot()

        return asyncio.get_running_loop().create_task(holding_the_slot())
