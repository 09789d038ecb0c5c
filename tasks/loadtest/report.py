"""The report of one load test: what ran against what, every step judged, every verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.loadtest.settings import LoadTestSettings
from tasks.loadtest.summary import StepSummary
from tasks.loadtest.verdicts import Verdict, judge, knee, shedding_problems, slo_problems


@dataclass(frozen=True)
class StepVerdict:
    """One step judged on its own: the SLO, and how it refused what it refused."""

    offered_per_minute: float
    slo_problems: list[str]
    shedding_problems: list[str]

    @property
    def meets_slo(self) -> bool:
        return not self.slo_problems

    @property
    def sheds_cleanly(self) -> bool:
        return not self.shedding_problems


@dataclass(frozen=True)
class LoadTestReport:
    """The whole load test: what ran against what, every step, every verdict."""

    target: str
    services_started: bool
    token_mode: str
    settings: dict[str, Any]
    steps: list[StepSummary]
    verdicts: list[Verdict]
    knee_per_minute: float | None
    stopped_because: str
    services: dict[str, Any] = field(default_factory=dict)  # env and model of started services
    step_verdicts: list[StepVerdict] = field(default_factory=list)
    mlflow_run_id: str | None = None

    @property
    def passed(self) -> bool:
        return all(verdict.status != "fail" for verdict in self.verdicts)


@task(name="judge-load-test", cache_policy=NO_CACHE)
def judge_load_test(
    target: str,
    services: dict[str, Any],
    token_mode: str,
    steps: list[StepSummary],
    settings: LoadTestSettings,
    stopped_because: str,
) -> LoadTestReport:
    """The report: every step, the verdicts and the knee."""
    return LoadTestReport(
        target=target,
        services_started=bool(services),
        token_mode=token_mode,
        settings=settings.model_dump(mode="json"),
        steps=steps,
        verdicts=judge(steps, settings),
        knee_per_minute=knee(steps, settings),
        stopped_because=stopped_because,
        services=services,
        step_verdicts=[
            StepVerdict(
                step.offered_per_minute,
                slo_problems(step, settings),
                shedding_problems(step, settings),
            )
            for step in steps
        ],
    )
