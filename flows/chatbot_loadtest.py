"""The chat load-test flow: open-loop load on `POST /api/chat` over HTTP, shown as an artifact."""

from __future__ import annotations

import asyncio

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tasks.loadtest.driver import (
    DEFAULT_CHAT_URL,
    ArrivalProcess,
    RequestOutcome,
    arrival_offsets,
    require_loopback,
    run_open_loop,
    validate_load,
)
from tasks.loadtest.summary import LoadTestSummary, render_markdown, summarize

ARTIFACT_KEY = "chatbot-loadtest"

# No retries anywhere: re-running a load step would send the load twice and skew the figures.
plan_arrivals = task(name="plan-arrivals", cache_policy=NO_CACHE)(arrival_offsets)
summarize_outcomes = task(name="summarize-load", cache_policy=NO_CACHE)(summarize)


@task(name="drive-open-loop-load", cache_policy=NO_CACHE)
def drive_load(
    base_url: str,
    offsets: list[float],
    session_count: int,
    timeout_seconds: float,
    seed: int,
) -> list[RequestOutcome]:
    """Send the schedule with httpx.AsyncClient; returns one outcome per scheduled request."""
    return asyncio.run(run_open_loop(base_url, offsets, session_count, timeout_seconds, seed))


@flow(name="chatbot-loadtest", log_prints=True)
def chatbot_loadtest(
    base_url: str = DEFAULT_CHAT_URL,
    requests_per_minute: float = 100,
    duration_seconds: float = 30,
    session_count: int = 20,
    timeout_seconds: float = 5,
    seed: int = 0,
    arrivals: ArrivalProcess = "poisson",
    max_requests: int = 10_000,
    budget_seconds: float = 2.0,
    allow_remote: bool = False,
) -> LoadTestSummary:
    """Load the chat service at `requests_per_minute` for `duration_seconds`; report how it held.

    Only loopback targets unless `allow_remote=True`: a load test aimed at someone else's
    service is an attack.
    """
    require_loopback(base_url, allow_remote)
    validate_load(
        requests_per_minute, duration_seconds, session_count, timeout_seconds, max_requests
    )
    offsets = plan_arrivals(requests_per_minute, duration_seconds, seed, arrivals, max_requests)
    print(
        f"sending {len(offsets)} requests ({arrivals}, {requests_per_minute:g}/min for "
        f"{duration_seconds:g} s) to {base_url}"
    )
    outcomes = drive_load(base_url, offsets, session_count, timeout_seconds, seed)
    summary = summarize_outcomes(
        outcomes, base_url, requests_per_minute, len(offsets), budget_seconds
    )
    table = render_markdown(summary)
    create_markdown_artifact(
        markdown=f"# Chat service load test\n\n{table}\n",
        key=ARTIFACT_KEY,
        description=f"open-loop load on {base_url}",
    )
    print(table)
    return summary
