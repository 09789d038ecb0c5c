"""The threads blocking boto3 calls run in, with a cap on how many may be in flight at once.

boto3 is blocking, so each call runs in a thread pool sized to the connection pool; a semaphore
admits at most `max_concurrent_upstream` calls and is released only when the thread really ends,
so abandoned calls (the visitor's deadline passed) cannot pile up behind the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

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
    """Runs blocking calls in threads, admitting a bounded number at a time."""

    def __init__(self, settings: ChatbotSettings, metrics: ChatMetrics) -> None:
        self._admission_wait_seconds = settings.admission_wait_seconds
        self._metrics = metrics
        self._executor = ThreadPoolExecutor(
            max_workers=settings.max_pool_connections, thread_name_prefix="bedrock"
        )
        self._slots = asyncio.Semaphore(settings.max_concurrent_upstream)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

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

    async def start(self, call: Callable[[], T], deadline: Deadline) -> Future[T]:
        """Submit once a slot is free; the slot comes back when the thread ends, not before."""
        await self._admit(deadline)
        loop = asyncio.get_running_loop()
        try:
            future = self._executor.submit(call)
        except BaseException:
            self._release_slot()
            raise

        def release_from_thread(_: Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                loop.call_soon_threadsafe(self._release_slot)

        future.add_done_callback(release_from_thread)
        return future
