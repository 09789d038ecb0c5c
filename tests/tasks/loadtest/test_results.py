"""Results: the JSON file, the table rows, and one MLflow run on a real sqlite store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from mlflow import MlflowClient

from core.errors import ParameterError
from core.settings import load_settings as load_pipeline_settings
from tasks.loadtest.report import LoadTestReport, judge_load_test
from tasks.loadtest.results import (
    EXPERIMENT_NAME,
    FIGURE_FILE,
    SUMMARY_FILE,
    record_in_mlflow,
    require_writable_json_path,
    step_rows,
    write_report_json,
)
from tasks.loadtest.settings import LoadTestSettings
from tasks.loadtest.summary import StepSummary
from tasks.loadtest.verdicts import Verdict


def step(rate: float, p95: float, answered: int, refused: int) -> StepSummary:
    return StepSummary(
        index=0,
        offered_per_minute=rate,
        window_seconds=30,
        sent=answered + refused,
        achieved_per_minute=rate,
        answered_per_minute=answered * 2,
        latency_ms={"p50": p95 / 2, "p90": p95 * 0.9, "p95": p95, "p99": p95 * 1.2, "max": p95 * 2},
        answered_p95_ms=p95,
        status_counts={"200": answered, "429": refused} if refused else {"200": answered},
        error_counts={"service_busy": refused} if refused else {},
        refusals=refused,
        refusals_with_retry_after=refused,
        refusal_p99_ms=9.0 if refused else None,
        timeouts=0,
        server_errors={},
        cache_hit_rate=0.25,
        cache_source="metrics",
        upstream_p50_ms=800,
        schedule_lag_p95_ms=1.5,
        abusive_sent=30,
        abusive_refused=25,
    )


def report() -> LoadTestReport:
    """A two-step test: 100/min meets the SLO, 800/min refuses a quarter, cleanly."""
    return judge_load_test.fn(
        target="http://127.0.0.1:8080",
        services={
            "chat_service_env": {"CHATBOT_PORT": "4321"},
            "fake_bedrock": {"latency_ms": 800},
        },
        token_mode="none",
        steps=[step(100, 900, 50, 0), step(800, 950, 300, 100)],
        settings=LoadTestSettings(),
        stopped_because="the SLO broke at 800/min",
    )


def test_json_holds_every_step_every_verdict_and_the_overall_result(tmp_path: Path) -> None:
    path = write_report_json(report(), tmp_path / "loadtest.json")

    data = json.loads(path.read_text())
    assert data["passed"] is True
    assert data["knee_per_minute"] == 100
    assert {v["name"]: v["status"] for v in data["verdicts"]}["slo_at_100_per_min"] == "pass"
    assert [s["meets_slo"] for s in data["step_verdicts"]] == [True, False]
    assert data["step_verdicts"][1]["slo_problems"] == ["answered 75% < 95% (service_busy x100)"]
    assert [s["sheds_cleanly"] for s in data["step_verdicts"]] == [True, True]
    assert [s["offered_per_minute"] for s in data["steps"]] == [100, 800]
    assert data["steps"][1]["answered_share"] == 0.75
    assert data["steps"][1]["status_counts"] == {"200": 300, "429": 100}
    assert data["settings"]["rates_per_minute"] == [50, 100, 200, 400, 800]
    assert not list(tmp_path.glob(".*partial"))


def test_json_of_a_failed_test_says_so(tmp_path: Path) -> None:
    failed = replace(report(), verdicts=[Verdict("slo_at_100_per_min", "fail", "p95 2500 ms")])

    data = json.loads(write_report_json(failed, tmp_path / "out.json").read_text())

    assert data["passed"] is False


@pytest.mark.parametrize(
    ("name", "message"), [(".", "is a folder"), ("missing/out.json", "does not exist")]
)
def test_a_json_path_that_cannot_be_written_is_refused_before_any_load(
    tmp_path: Path, name: str, message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        require_writable_json_path(tmp_path / name)


def test_table_rows_show_rates_percentiles_shares_and_refusals() -> None:
    rows = step_rows(report())

    assert rows[1]["offered/min"] == "800"
    assert (rows[0]["SLO"], rows[1]["SLO"]) == ("met", "answered 75% < 95% (service_busy x100)")
    assert rows[1]["refusals"] == "clean"
    assert (rows[1]["p95 ms"], rows[1]["max ms"]) == ("950", "1900")
    assert (rows[1]["200"], rows[1]["429"], rows[1]["503"]) == ("75%", "25%", "0%")
    assert rows[1]["errors"] == "service_busy x100"
    assert (rows[1]["Retry-After"], rows[1]["refusal p99 ms"]) == ("100%", "9")
    assert rows[0]["Retry-After"] == "-"
    assert rows[1]["abusive refused"] == "25/30"


def test_one_mlflow_run_holds_params_metrics_per_rate_the_figure_and_the_summary(
    mlflow_store: Path,
) -> None:
    recorded = record_in_mlflow.fn(report())

    client = MlflowClient(tracking_uri=load_pipeline_settings().tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == recorded.mlflow_run_id
    assert run.info.status == "FINISHED"
    assert run.data.params["loadtest.slo_p95_seconds"] == "2.0"
    assert run.data.params["service.CHATBOT_PORT"] == "4321"
    assert run.data.params["model.latency_ms"] == "800"
    assert run.data.tags["verdict.slo_at_100_per_min"] == "pass"
    assert run.data.tags["passed"] == "True"
    p95 = client.get_metric_history(run.info.run_id, "p95_ms")
    assert [(m.step, m.value) for m in p95] == [(100, 900), (800, 950)]
    shares = client.get_metric_history(run.info.run_id, "share_429")
    assert [(m.step, m.value) for m in shares] == [(100, 0.0), (800, 0.25)]
    assert run.data.metrics["knee_per_min"] == 100
    meets = client.get_metric_history(run.info.run_id, "meets_slo")
    assert [(m.step, m.value) for m in meets] == [(100, 1.0), (800, 0.0)]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {FIGURE_FILE, SUMMARY_FILE}
    summary = json.loads(Path(client.download_artifacts(run.info.run_id, SUMMARY_FILE)).read_text())
    assert summary["mlflow_run_id"] == run.info.run_id
