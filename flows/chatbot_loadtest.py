"""The chat load-test flow: an open-loop ramp to the knee, verdicts in MLflow, Prefect and JSON."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow

from tasks.loadtest.mix import new_run_tag
from tasks.loadtest.ramp import next_rate, run_load_step
from tasks.loadtest.report import LoadTestReport, judge_load_test
from tasks.loadtest.results import (
    publish_artifact,
    record_in_mlflow,
    require_writable_json_path,
    verdict_lines,
    write_report_json,
)
from tasks.loadtest.services import chat_services
from tasks.loadtest.session_tokens import detect_token_mode
from tasks.loadtest.settings import LoadTestSettings, load_loadtest_settings
from tasks.loadtest.summary import StepSummary


@flow(name="chatbot-loadtest", log_prints=True)
def chatbot_loadtest(
    base_url: str | None = None,
    start_services: bool = False,
    allow_remote: bool = False,
    settings: LoadTestSettings | None = None,
    json_path: Path | None = None,
) -> LoadTestReport:
    """Ramp open-loop load on the chat service until the SLO breaks; judge every step.

    The target is `base_url` (default: where `ccseg chatbot serve` listens), or, with
    `start_services` (which takes precedence), a fake Bedrock and a chat service started for
    this run and always stopped.
    Only loopback targets unless `allow_remote=True`: load aimed at someone else's service is an
    attack. Settings default to the `CCSEG_LOADTEST_*` environment.
    """
    settings = settings or load_loadtest_settings()
    require_writable_json_path(json_path)
    if start_services and base_url is not None:
        # A deployment keeps its default URL when a run asks for started services.
        print(f"start_services: the started chat service is the target, not {base_url}")
        base_url = None
    run_tag = new_run_tag()
    steps: list[StepSummary] = []
    # The services live exactly as long as this block, whatever ends it.
    with chat_services(settings, base_url, start_services, allow_remote) as target:
        token_mode = detect_token_mode(target.base_url, settings.origin, settings.timeout_seconds)
        started = time.monotonic()
        rate: float | None = settings.rates_per_minute[0]
        stopped_because = ""
        while rate is not None:
            steps.append(
                run_load_step(target.base_url, len(steps), rate, settings, run_tag, token_mode)
            )
            rate, stopped_because = next_rate(settings, steps, time.monotonic() - started)
    report = judge_load_test(
        target.base_url, target.description, token_mode, steps, settings, stopped_because
    )
    report = record_in_mlflow(report)
    publish_artifact(report)
    if json_path is not None:
        write_report_json(report, json_path)
    print(f"ramp stopped: {stopped_because}")
    for line in verdict_lines(report):
        print(line)
    return report
