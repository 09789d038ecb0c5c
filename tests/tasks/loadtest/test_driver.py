"""The load schedule is open-loop and bounded; the driver fires on schedule and accounts for all."""

from __future__ import annotations

import asyncio
import itertools
import socket
import statistics

import pytest

from core.errors import ParameterError
from tasks.loadtest.driver import (
    arrival_offsets,
    chat_request,
    require_loopback,
    run_open_loop,
    validate_load,
)


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


@pytest.mark.parametrize(
    "arguments",
    [
        (0, 30, 20, 5, 100),
        (100, 0, 20, 5, 100),
        (100, 30, 0, 5, 100),
        (100, 30, 20, 0, 100),
        (100, 30, 20, 5, 0),
        (100, 7_200, 20, 5, 100),
    ],
)
def test_load_parameters_out_of_range_are_refused(arguments) -> None:
    with pytest.raises(ParameterError):
        validate_load(*arguments)


def test_chat_request_follows_the_contract_and_reuses_sessions() -> None:
    bodies = [chat_request(index, session_count=3, seed=0) for index in range(6)]

    assert set(bodies[0]) == {"message", "page", "session_id"}
    assert set(bodies[0]["page"]) == {"url", "title", "text"}
    assert len({body["session_id"] for body in bodies}) == 3


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_driver_counts_refused_connections_as_transport_errors() -> None:
    url = f"http://127.0.0.1:{_closed_loopback_port()}"

    outcomes = asyncio.run(
        run_open_loop(url, [0.0, 0.01, 0.02], session_count=1, timeout_seconds=1)
    )

    assert [outcome.status for outcome in outcomes] == [None, None, None]
    assert all(outcome.error == "ConnectError" for outcome in outcomes)
