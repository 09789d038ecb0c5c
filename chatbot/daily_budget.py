"""A daily token budget for the whole service: a spend cap that per-minute limits cannot give.

Per-minute limits bound bursts; a steady trickle under every one of them can still spend a day's
money. The budget counts the tokens Bedrock reports as used (input + output, what it bills) in a
fixed window per UTC day, in the rate-limit storage (so all instances share it). Once spent,
questions that need the model get 503 `budget_exhausted` until midnight UTC; cached answers are
still served. A warning is logged once per day per process when the configured fraction is
crossed, early enough for someone to raise the budget or look for abuse.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from limits import RateLimitItemPerDay
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter

from chatbot.errors import BudgetExhausted
from chatbot.observability import ChatMetrics, log_event

logger = logging.getLogger("chatbot.budget")
SECONDS_PER_DAY = 86_400


def seconds_to_utc_midnight(now: float) -> int:
    moment = datetime.fromtimestamp(now, UTC)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, math.ceil(midnight.timestamp() - now))


class DailyTokenBudget:
    """Refuses model calls once today's tokens are spent; charges what each call really used."""

    def __init__(
        self,
        storage: Storage,
        limit_tokens: int,
        warning_fraction: float,
        metrics: ChatMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = FixedWindowRateLimiter(storage)
        self._item = RateLimitItemPerDay(limit_tokens)
        self._limit = limit_tokens
        self._warning_fraction = warning_fraction
        self._metrics = metrics
        self._clock = clock
        self._warned_on: str | None = None
        self._day: tuple[int, str] = (-1, "")
        metrics.daily_tokens_limit.set(limit_tokens)

    def _today(self) -> str:
        # POSIX time has exactly 86,400 s a UTC day, so the day number names the date; the
        # date is formatted once a day instead of twice a question.
        number = int(self._clock() // SECONDS_PER_DAY)
        if number != self._day[0]:
            self._day = (
                number,
                datetime.fromtimestamp(number * SECONDS_PER_DAY, UTC).date().isoformat(),
            )
        return self._day[1]

    async def check(self) -> None:
        """Raise BudgetExhausted (Retry-After: until midnight UTC) when nothing is left today."""
        if not await self._limiter.test(self._item, "daily_tokens", self._today()):
            raise BudgetExhausted(
                retry_after=seconds_to_utc_midnight(self._clock()), scope="daily_budget"
            )

    async def charge(self, tokens: int, request_id: str) -> None:
        """Add what a call used; a fixed window adds the cost even past the limit."""
        if tokens <= 0:
            return
        day = self._today()
        await self._limiter.hit(self._item, "daily_tokens", day, cost=tokens)
        stats = await self._limiter.get_window_stats(self._item, "daily_tokens", day)
        used = self._limit - stats.remaining
        self._metrics.daily_tokens_used.set(used)
        if used >= self._warning_fraction * self._limit and self._warned_on != day:
            self._warned_on = day
            log_event(
                logger,
                logging.WARNING,
                "daily_budget_warning",
                request_id=request_id,
                used_tokens=used,
                limit_tokens=self._limit,
                fraction=round(used / self._limit, 3),
            )
