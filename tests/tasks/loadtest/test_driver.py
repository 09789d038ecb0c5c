"""The driver: schedules are open-loop and bounded; it measures a known server faithfully.

The timing tests are correctness checks of the generator against a server with a fixed 200 ms
latency, with sample sizes and margins meant for a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import statistics

import pytest

from core.errors import ParameterError
from tasks.loadtest.driver import (
    StepRequest,
    arrival_offsets,
    require_loopback,
    run_open_loop,
)
from tasks.loadtest.summary import percentile, summarize_step

ORIGIN = "https://www.example.com"


def requests_at(offsets: list[float], sessions: int = 50) -> list[StepRequest]:
    return [
        StepRequest(
            offset=offset,
            session_id=f"driver-test-{index % sessions:04d}",
            client_ip=f"198.18.0.{index % sessions + 1}",
            body={"message": "Hi?", "page": {"url": f"{ORIGIN}/a", "title": "A", "text": "A."}},
        )
        for index, offset in enumerate(offsets)
    ]


def test_poisson_schedule_is_bounded_by_duration_and_count_and_sorted() -> None:
    offsets = arrival_offsets(6_000, 10, seed=1)

    assert offsets == sorted(offsets)
    assert all(0 <= offset < 10 for offset in offsets)
    assert len(arrival_offsets(6_000, 10, seed=1, max_requests=50)) == 50


def test_poisson_schedule_has_the_requested_mean_rate_and_exponential_gaps() -> None:
    offsets = arrival_offsets(600, 600, seed=3)  # 10 per second for 10 minutes

    gaps = [later - earlier for earlier, later in itertools.pairwise(offsets)]

    assert len(offsets) == pytest.approx(6_000, rel=0.05)
    # Exponential gaps: standard deviation equals the mean (coefficient of variation 1).
    assert statistics.stdev(gaps) / statistics.mean(gaps) == pytest.approx(1.0, abs=0.05)


def test_fixed_count_poisson_offers_exactly_the_rate_with_exponential_gaps() -> None:
    offsets = arrival_offsets(600, 600, seed=3, process="poisson_fixed_count")

    gaps = [later - earlier for earlier, later in itertools.pairwise(offsets)]

    assert len(offsets) == 6_000
    assert offsets == sorted(offsets) and offsets[0] >= 0 and offsets[-1] < 600
    assert statistics.stdev(gaps) / statistics.mean(gaps) == pytest.approx(1.0, abs=0.05)
    assert len(arrival_offsets(600, 600, process="poisson_fixed_count", max_requests=7)) == 7


def test_schedule_is_reproducible_for_a_seed_and_differs_across_seeds() -> None:
    assert arrival_offsets(100, 60, seed=5) == arrival_offsets(100, 60, seed=5)
    assert arrival_offsets(100, 60, seed=5) != arrival_offsets(100, 60, seed=6)


def test_constant_schedule_is_evenly_spaced_at_the_rate() -> None:
    assert arrival_offsets(120, 3, process="constant") == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "http://localhost:9", "http://[::1]:8000", "https://127.0.0.2"],
)
def test_loopback_targets_are_accepted(url: str) -> None:
    require_loopback(url)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:8000", "https://example.com", "http://127.0.0.1.example.com"]
)
def test_non_loopback_targets_are_refused_unless_explicitly_allowed(url: str) -> None:
    with pytest.raises(ParameterError, match="allow_remote=True"):
        require_loopback(url)
    require_loopback(url, allow_remote=True)


def test_url_without_http_scheme_is_refused_even_when_remote_is_allowed() -> None:
    with pytest.raises(ParameterError, match="http"):
        require_loopback("ftp://127.0.0.1", allow_remote=True)


def test_generator_measures_a_fixed_200_ms_server_and_keeps_its_rate(serve_chat) -> None:
    served = serve_chat(latency_seconds=0.2)
    offsets = arrival_offsets(1_200, 15, seed=7, process="poisson_fixed_count")  # 300 in 15 s

    run = asyncio.run(run_open_loop(served.url, requests_at(offsets), 5, ORIGIN))
    step = summarize_step(0, 1_200, 15, run.outcomes)

    assert step.status_counts == {"200": 300}
    assert step.latency_ms["p50"] == pytest.approx(200, rel=0.10)
    assert step.achieved_per_minute == pytest.approx(1_200, rel=0.05)
    assert served.stats()["chat_requests"] == 300


def test_a_single_3_s_stall_shows_in_p99_and_max_for_every_request_it_delayed(serve_chat) -> None:
    # The 60th request (about 3 s in) freezes the server for 3 s. An open-loop driver keeps
    # sending on schedule, so the ~60 requests due during the stall all wait, each measured
    # from when it was due; a closed loop would have sent one request and waited with it.
    served = serve_chat(latency_seconds=0.2, stall_at_request=60, stall_seconds=3.0)
    offsets = arrival_offsets(1_200, 10, seed=11, process="poisson_fixed_count")  # 200 in 10 s

    run = asyncio.run(run_open_loop(served.url, requests_at(offsets), 10, ORIGIN))
    step = summarize_step(0, 1_200, 10, run.outcomes)
    latencies = [outcome.latency_seconds for outcome in run.outcomes]

    assert step.status_counts == {"200": 200}
    assert step.latency_ms["max"] >= 3_000
    assert step.latency_ms["p99"] >= 2_500
    assert sum(latency > 1.0 for latency in latencies) >= 25
    assert step.latency_ms["p50"] < 1_000  # the rest of the run is unaffected
    # Senders were not held back by the stall: they left on schedule.
    assert percentile([o.sent_at - o.scheduled_at for o in run.outcomes], 99) < 0.5


def test_requests_leave_on_schedule_before_earlier_ones_answer(serve_chat) -> None:
    served = serve_chat(latency_seconds=1.0)

    run = asyncio.run(run_open_loop(served.url, requests_at([0.0, 0.1, 0.2, 0.3]), 5, ORIGIN))

    # A closed loop would send the second request only after the first answer, 1 s later.
    assert [round(o.sent_at, 1) for o in run.outcomes] == [0.0, 0.1, 0.2, 0.3]
    assert [o.status for o in run.outcomes] == [200] * 4


def test_each_request_carries_its_simulated_client_address(serve_chat) -> None:
    served = serve_chat(latency_seconds=0.0)

    asyncio.run(run_open_loop(served.url, requests_at([0.0, 0.01, 0.02], sessions=3), 5, ORIGIN))

    assert sorted(served.stats()["forwarded_for"]) == ["198.18.0.1", "198.18.0.2", "198.18.0.3"]


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_driver_counts_refused_connections_as_transport_errors() -> None:
    url = f"http://127.0.0.1:{_closed_loopback_port()}"

    run = asyncio.run(run_open_loop(url, requests_at([0.0, 0.01, 0.02]), 1, ORIGIN))

    assert [outcome.status for outcome in run.outcomes] == [None, None, None]
    assert {outcome.error for outcome in run.outcomes} == {"ConnectError"}


def test_a_request_past_the_timeout_is_recorded_as_a_timeout_not_awaited(serve_chat) -> None:
    served = serve_chat(latency_seconds=3.0)

    run = asyncio.run(run_open_loop(served.url, requests_at([0.0]), 0.5, ORIGIN))

    (outcome,) = run.outcomes
    assert (outcome.status, outcome.error) == (None, "ReadTimeout")
    assert 0.5 <= outcome.latency_seconds < 2.0
