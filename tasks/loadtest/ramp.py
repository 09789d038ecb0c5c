"""The ramp: the listed steps, then doubling while the SLO holds, within a count and time budget.

Each step is bounded twice: at most `step_max_requests` ordinary questions (a fast step gets a
shorter window at the same rate) and `step_seconds` of sending, plus one timeout for the last
answers. A step starts only if it can finish inside `max_total_seconds`, so the whole ramp
ends by itself (the defaults: 5 listed steps and up to 3 doublings in under 5 minutes).
"""

from __future__ import annotations

import asyncio

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from tasks.loadtest.driver import run_open_loop
from tasks.loadtest.mix import MixPlan, step_requests
from tasks.loadtest.service_metrics import counter_increase, scrape
from tasks.loadtest.session_tokens import TokenMode
from tasks.loadtest.settings import LoadTestSettings
from tasks.loadtest.summary import StepSummary, summarize_step
from tasks.loadtest.verdicts import rate_label, slo_problems


def step_size(rate_per_minute: float, settings: LoadTestSettings) -> tuple[int, float]:
    """(ordinary questions, window in seconds) of a step at this rate."""
    wanted = max(1, round(rate_per_minute * settings.step_seconds / 60))
    if wanted <= settings.step_max_requests:
        return wanted, settings.step_seconds
    return settings.step_max_requests, settings.step_max_requests * 60 / rate_per_minute


def step_budget_seconds(settings: LoadTestSettings) -> float:
    """The longest one step can take: its window plus the last answers' timeout."""
    return settings.step_seconds + settings.timeout_seconds


def next_rate(
    settings: LoadTestSettings, done: list[StepSummary], elapsed_seconds: float
) -> tuple[float | None, str]:
    """The next step's rate, or None and why the ramp stops."""
    listed = settings.rates_per_minute
    if len(done) < len(listed):
        rate = listed[len(done)]
    else:
        last = done[-1]
        if problems := slo_problems(last, settings):
            return None, f"the SLO broke at {rate_label(last.offered_per_minute)}: {problems[0]}"
        rate = last.offered_per_minute * 2
        if rate > settings.max_rate_per_minute:
            return (
                None,
                f"the SLO held up to the maximum rate ({rate_label(last.offered_per_minute)})",
            )
    if elapsed_seconds + step_budget_seconds(settings) > settings.max_total_seconds:
        return None, (
            f"the next step ({rate_label(rate)}) would end after the "
            f"{settings.max_total_seconds:g} s budget"
        )
    return rate, ""


def mix_plan(settings: LoadTestSettings, run_tag: str) -> MixPlan:
    return MixPlan(
        run_tag=run_tag,
        origin=settings.origin,
        seed=settings.seed,
        repeat_share=settings.repeat_share,
        questions_per_session=settings.questions_per_session,
        sessions_per_ip=settings.sessions_per_ip,
        abusive_clients=settings.abusive_clients,
        abusive_rate_per_minute=settings.abusive_rate_per_minute,
    )


def _step_run_name() -> str:
    parameters = task_run.parameters
    return f"step-{parameters['index']}-at-{parameters['rate_per_minute']:g}-per-min"


# No retries: re-running a load step would send its load twice and skew the figures.
@task(name="load-step", task_run_name=_step_run_name, cache_policy=NO_CACHE)
def run_load_step(
    base_url: str,
    index: int,
    rate_per_minute: float,
    settings: LoadTestSettings,
    run_tag: str,
    token_mode: TokenMode,
) -> StepSummary:
    """Send one open-loop step and summarise it, with the service's counters over the step."""
    count, window = step_size(rate_per_minute, settings)
    requests = step_requests(mix_plan(settings, run_tag), index, rate_per_minute, window, count)
    with httpx.Client(base_url=base_url, timeout=settings.timeout_seconds, trust_env=False) as http:
        before = scrape(http)
        run = asyncio.run(
            run_open_loop(base_url, requests, settings.timeout_seconds, settings.origin, token_mode)
        )
        after = scrape(http)
    step = summarize_step(
        index,
        rate_per_minute,
        window,
        run.outcomes,
        counter_increase(before, after),
        token_mode=run.token_mode,
        tokens_fetched=run.tokens_fetched,
        tokens_renewed=run.tokens_renewed,
    )
    p95 = step.latency_ms["p95"]
    print(
        f"step {index} at {rate_label(rate_per_minute)}: {step.sent} sent, "
        f"p95 {'-' if p95 is None else f'{p95:.0f} ms'}, answered {step.answered_share:.0%}, "
        f"refusals {step.refusals}"
    )
    return step
