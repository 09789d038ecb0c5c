"""Where a load test's results go: one MLflow run, a Prefect table artifact, and a JSON file.

MLflow metrics are logged per step with the offered rate as the step number, so MLflow's own
charts plot each measure against the load. The tracking URI comes from the pipeline settings
(`MLFLOW_TRACKING_URI` or the work folder's sqlite store), passed to a client: no global state.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from core.errors import ParameterError
from core.settings import load_settings as load_pipeline_settings
from tasks.loadtest.figure import ramp_figure, status_shares
from tasks.loadtest.report import LoadTestReport
from tasks.loadtest.summary import StepSummary
from tasks.loadtest.verdicts import rate_label

EXPERIMENT_NAME = "chatbot-loadtest"
ARTIFACT_KEY = "chatbot-loadtest"
FIGURE_FILE = "ramp.png"
SUMMARY_FILE = "summary.json"
_MLFLOW_PARAM_CHARS = 6_000


def report_to_dict(report: LoadTestReport) -> dict[str, Any]:
    """The whole report as JSON-ready data, with the derived figures automation wants."""
    data = asdict(report)
    data["passed"] = report.passed
    for step, row in zip(report.steps, data["steps"], strict=True):
        row["answered_share"] = step.answered_share
        row["retry_after_share"] = step.retry_after_share
    for judged, row in zip(report.step_verdicts, data["step_verdicts"], strict=True):
        row["meets_slo"] = judged.meets_slo
        row["sheds_cleanly"] = judged.sheds_cleanly
    return data


def require_writable_json_path(path: Path | None) -> None:
    """`--json PATH` must name a file in an existing folder; checked before any load."""
    if path is None:
        return
    if path.is_dir():
        raise ParameterError(f"--json {path} is a folder; give a file name such as loadtest.json")
    if not path.parent.is_dir():
        raise ParameterError(f"--json {path}: the folder {path.parent} does not exist")


def write_report_json(report: LoadTestReport, path: Path) -> Path:
    """Write the report atomically (a reader never sees half a file)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(report_to_dict(report), indent=2, allow_nan=False) + "\n")
    partial.replace(path)
    return path


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def step_rows(report: LoadTestReport) -> list[dict[str, str]]:
    """One table row per step: its verdicts, then the figures an operator reads first."""
    rows = []
    for step, judged in zip(report.steps, report.step_verdicts, strict=True):
        shares = status_shares(step)
        rows.append(
            {
                "offered/min": f"{step.offered_per_minute:g}",
                "SLO": "; ".join(judged.slo_problems) or "met",
                "refusals": "; ".join(judged.shedding_problems) or "clean",
                "achieved/min": f"{step.achieved_per_minute:.0f}",
                "sent": str(step.sent),
                **{f"{name} ms": _ms(value) for name, value in step.latency_ms.items()},
                "200": _share(shares["answered (200)"]),
                "429": _share(shares["429"]),
                "503": _share(shares["503"]),
                "other / none": _share(shares["other status"] + shares["no answer"]),
                "errors": ", ".join(f"{code} x{n}" for code, n in step.error_counts.items()),
                "Retry-After": _share(step.retry_after_share),
                "refusal p99 ms": _ms(step.refusal_p99_ms),
                "cache hits": _share(step.cache_hit_rate),
                "abusive refused": f"{step.abusive_refused}/{step.abusive_sent}",
            }
        )
    return rows


def verdict_lines(report: LoadTestReport) -> list[str]:
    return [f"{v.status.upper()} {v.name}: {v.detail}" for v in report.verdicts]


def _params(report: LoadTestReport) -> list[Param]:
    values: dict[str, Any] = {
        "target": report.target,
        "services_started": report.services_started,
        "token_mode": report.token_mode,
        **{f"loadtest.{name}": value for name, value in report.settings.items()},
    }
    for name, value in report.services.get("chat_service_env", {}).items():
        values[f"service.{name}"] = value
    for name, value in report.services.get("fake_bedrock", {}).items():
        values[f"model.{name}"] = value
    return [Param(name, str(value)[:_MLFLOW_PARAM_CHARS]) for name, value in values.items()]


def _step_metrics(step: StepSummary, timestamp: int) -> list[Metric]:
    figures: dict[str, float | None] = {
        **{f"{name}_ms": value for name, value in step.latency_ms.items()},
        "achieved_per_min": step.achieved_per_minute,
        "answered_per_min": step.answered_per_minute,
        "answered_share": step.answered_share,
        "refusal_p99_ms": step.refusal_p99_ms,
        "retry_after_share": step.retry_after_share,
        "cache_hit_rate": step.cache_hit_rate,
        "schedule_lag_p95_ms": step.schedule_lag_p95_ms,
        "upstream_p50_ms": step.upstream_p50_ms,
        "upstream_throttled_attempts": step.upstream_throttled_attempts,
        "abusive_refused_share": step.abusive_refused / step.abusive_sent
        if step.abusive_sent
        else None,
        **{f"share_{label.split(' ')[0]}": v for label, v in status_shares(step).items()},
    }
    rate = round(step.offered_per_minute)
    return [
        Metric(name, float(value), timestamp, rate)
        for name, value in figures.items()
        if value is not None and math.isfinite(value)
    ]


def _experiment_id(client: MlflowClient, artifact_location: str | None) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location)
    except MlflowException:  # another process created it meanwhile
        return client.get_experiment_by_name(EXPERIMENT_NAME).experiment_id


@task(name="record-load-test-in-mlflow", cache_policy=NO_CACHE)
def record_in_mlflow(report: LoadTestReport) -> LoadTestReport:
    """One run in experiment `chatbot-loadtest`: params, per-step metrics, figure, summary."""
    pipeline = load_pipeline_settings()
    client = MlflowClient(tracking_uri=pipeline.tracking_uri)
    experiment_id = _experiment_id(client, pipeline.artifact_location)
    tags = {f"verdict.{v.name}": v.status for v in report.verdicts}
    tags["passed"] = str(report.passed)
    if flow_run.id:
        tags["prefect.flow_run_id"] = flow_run.id
    run = client.create_run(experiment_id, tags=tags, run_name=f"loadtest-{report.target}")
    run_id = run.info.run_id
    try:
        timestamp = run.info.start_time
        metrics = [m for step in report.steps for m in _step_metrics(step, timestamp)]
        metrics += [
            Metric(
                "meets_slo", float(judged.meets_slo), timestamp, round(judged.offered_per_minute)
            )
            for judged in report.step_verdicts
        ]
        if report.knee_per_minute is not None:
            metrics.append(Metric("knee_per_min", report.knee_per_minute, timestamp, 0))
        failed = sum(v.status == "fail" for v in report.verdicts)
        metrics.append(Metric("verdicts_failed", float(failed), timestamp, 0))
        params = _params(report)
        # MLflow takes at most 100 params (and 1,000 metrics) per batch.
        for start in range(0, max(len(params), len(metrics)), 100):
            chunk = slice(start, start + 100)
            client.log_batch(run_id, metrics=metrics[chunk], params=params[chunk])
        recorded = replace(report, mlflow_run_id=run_id)
        client.log_figure(
            run_id,
            ramp_figure(
                report.steps, report.settings["slo_p95_seconds"] * 1000, report.knee_per_minute
            ),
            FIGURE_FILE,
        )
        client.log_dict(run_id, report_to_dict(recorded), SUMMARY_FILE)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return recorded


@task(name="publish-load-test-artifact", cache_policy=NO_CACHE)
def publish_artifact(report: LoadTestReport) -> None:
    """The steps as a Prefect table; the verdicts and the knee in its description."""
    knee = "-" if report.knee_per_minute is None else rate_label(report.knee_per_minute)
    description = "\n".join(
        [
            f"Open-loop ramp on {report.target} ({'passed' if report.passed else 'FAILED'}; "
            f"knee {knee}; stopped: {report.stopped_because}).",
            "",
            *(f"- {line}" for line in verdict_lines(report)),
        ]
    )
    create_table_artifact(table=step_rows(report), key=ARTIFACT_KEY, description=description)
