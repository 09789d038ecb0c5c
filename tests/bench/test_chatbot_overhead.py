"""The overhead benchmark's generator fires on schedule, on a clock the tests move by hand."""

from __future__ import annotations

import asyncio

import pytest

from bench.chatbot_overhead import SPIN_CPU_SHARE, Sample, open_loop, summarize, wait_until
from tasks.loadtest.driver import arrival_offsets

# What asyncio's epoll wait does to a sleep: its timeout rounded up to the millisecond, plus
# the wake-up after an idle gap.
OVERSHOOT_S = 0.0015
# What one trip round the event loop costs while the generator yields.
TICK_S = 0.00005


class FakeTime:
    """A clock that moves only when the generator sleeps: a sleep lasts its time plus the
    overshoot, a `sleep(0)` one loop tick; both really yield to the event loop."""

    def __init__(self, overshoot_s: float = OVERSHOOT_S) -> None:
        self.now = 1000.0
        self.overshoot_s = overshoot_s
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)  # what was ready runs at the start of the sleep, not after it
        self.now += seconds + self.overshoot_s if seconds > 0 else TICK_S


def test_wait_until_sleeps_to_the_margin_then_yields_until_due() -> None:
    clock = FakeTime()
    due = clock.now + 0.1

    asyncio.run(wait_until(due, 0.002, clock, clock.sleep))

    assert clock.sleeps[0] == pytest.approx(0.098)
    assert all(seconds == 0 for seconds in clock.sleeps[1:])
    assert due <= clock.now < due + TICK_S


def test_wait_until_never_returns_before_the_due_time() -> None:
    clock = FakeTime(overshoot_s=0.0)
    due = clock.now + 0.1

    asyncio.run(wait_until(due, 0.002, clock, clock.sleep))

    assert clock.now >= due


def test_a_plain_sleep_fires_as_late_as_the_sleep_overshoots() -> None:
    clock = FakeTime()
    due = clock.now + 0.1

    asyncio.run(wait_until(due, 0.0, clock, clock.sleep))

    assert clock.sleeps == [pytest.approx(0.1)]
    assert clock.now - due == pytest.approx(OVERSHOOT_S)


def test_wait_until_returns_at_once_for_a_send_already_due() -> None:
    clock = FakeTime()

    asyncio.run(wait_until(clock.now - 0.01, 0.002, clock, clock.sleep))

    assert clock.sleeps == []


def test_other_tasks_keep_running_while_the_generator_waits_for_a_send() -> None:
    clock = FakeTime()
    turns = 0

    async def main() -> int:
        nonlocal turns
        waiting = asyncio.create_task(wait_until(clock.now + 0.1, 0.002, clock, clock.sleep))
        while not waiting.done():
            turns += 1
            await asyncio.sleep(0)
        return len(clock.sleeps)

    sleeps = asyncio.run(main())

    # Every look at the clock was a turn of the loop in which the other task ran too.
    assert sleeps > 10
    assert turns >= sleeps


def _instant(_: int) -> asyncio.Future[Sample]:
    future: asyncio.Future[Sample] = asyncio.get_running_loop().create_future()
    future.set_result(Sample(200, 0.0, None))
    return future


def _run_open_loop(margin_s: float) -> list[Sample]:
    clock = FakeTime()
    samples = asyncio.run(open_loop(_instant, 100, 60, 0, margin_s, clock, clock.sleep))
    offsets = arrival_offsets(100, 60, 0)
    assert len(samples) == len(offsets)
    start = samples[0].sent_at - samples[0].lag_s - offsets[0]
    for sample, offset in zip(samples, offsets, strict=True):
        # Due times follow the seeded Poisson schedule; latency counts from them.
        assert sample.sent_at - sample.lag_s == pytest.approx(start + offset, abs=1e-9)
        assert sample.latency_s == pytest.approx(sample.lag_s)
    return samples


def test_open_loop_sends_every_request_on_its_poisson_schedule() -> None:
    samples = _run_open_loop(0.002)

    assert all(0 <= sample.lag_s < TICK_S for sample in samples)


def test_open_loop_with_plain_sleeps_sends_late_and_records_it() -> None:
    lags = [sample.lag_s for sample in _run_open_loop(0.0)]

    # Late by the overshoot, less only when the previous late send ate into the next gap.
    assert all(0 <= lag <= OVERSHOOT_S + TICK_S for lag in lags)
    assert sorted(lags)[len(lags) // 2] == pytest.approx(OVERSHOOT_S)


def test_open_loop_spins_at_most_its_share_of_a_core_at_high_rates() -> None:
    clock = FakeTime(overshoot_s=0.0)  # every sleep ends at the margin: the longest spins

    samples = asyncio.run(open_loop(_instant, 6000, 10, 0, 0.002, clock, clock.sleep))

    spun = sum(1 for seconds in clock.sleeps if seconds == 0) * TICK_S
    # 2 ms a send would be ~18 % of the 10 s at 100 sends a second.
    assert spun <= len(samples) * (SPIN_CPU_SHARE * 60 / 6000 + TICK_S)
    assert all(sample.lag_s < TICK_S for sample in samples)


def test_summary_reports_the_generator_lateness_median_and_p99() -> None:
    samples = [Sample(200, 0.801, None, lag_s=index / 100_000) for index in range(100)]

    summary = summarize("run", 100, samples, 800.0)

    assert summary.generator_lag_p50_ms == pytest.approx(0.5, abs=0.01)
    assert summary.generator_lag_p99_ms == pytest.approx(0.99, abs=0.01)
