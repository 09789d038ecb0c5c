"""`ccseg history`: clear output on an empty store or a failed run; bad `--last` in one line."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ccseg.cli import main
from core.settings import PipelineSettings
from tasks.mlops.tracking import configure_tracking


@pytest.fixture
def work_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CCSEG_WORK_DIR", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def test_an_empty_store_says_there_are_no_runs_yet_and_creates_nothing(
    work_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No segmentation runs yet in experiment 'cc-segmentation'")
    assert "`ccseg run` records the first one." in out
    assert not (work_dir / "mlflow.db").exists()
    assert main(["history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "--last must be a whole number of runs, at least 1; got 0"),
        ("-2", "--last must be a whole number of runs, at least 1; got -2"),
        ("abc", "Invalid value for '--last'"),
        ("1.5", "Invalid value for '--last'"),
    ],
)
def test_a_bad_last_is_refused_in_one_line(
    work_dir: Path, capsys: pytest.CaptureFixture[str], value: str, problem: str
) -> None:
    assert main(["history", "--last", value]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccseg: error: ")
    assert problem in lines[0]


def test_a_store_with_only_a_failed_run_shows_it_failed_and_no_movement(
    work_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = PipelineSettings(work_dir=work_dir)
    experiment = configure_tracking(
        settings.tracking_uri, settings.experiment_name, settings.artifact_location
    )
    client = MlflowClient(settings.tracking_uri)
    run = client.create_run(experiment, run_name="segmentation-crashed")
    client.log_metric(run.info.run_id, "rows_in", 300)
    client.set_terminated(run.info.run_id, status="FAILED")
    capsys.readouterr()

    assert main(["history", "--last", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Last 1 of 1 run(s) in experiment 'cc-segmentation'")
    row = lines[3].split()
    assert row[0] == "1" and row[-1] == "failed"
    assert "No movement to show: 0 champion(s) in the store" in "\n".join(lines)


def test_synthetic_runs_are_shown_with_synthetic_and_not_beside_real_ones(
    work_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = PipelineSettings(work_dir=work_dir).for_synthetic_data()
    settings.work_dir.mkdir()
    experiment = configure_tracking(
        settings.tracking_uri, settings.experiment_name, settings.artifact_location
    )
    client = MlflowClient(settings.tracking_uri)
    client.set_terminated(client.create_run(experiment).info.run_id, status="FAILED")
    capsys.readouterr()

    assert main(["history", "--synthetic"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("Last 1 of 1 run(s) in experiment 'cc-segmentation-synthetic'")
    assert main(["history"]) == 0
    assert capsys.readouterr().out.startswith("No segmentation runs yet")


def test_a_tracking_server_that_does_not_answer_is_named_in_one_line(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{probe.getsockname()[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        code = main(["history"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith(
        f"ccseg: error: MLFLOW_TRACKING_URI={uri}: no MLflow"
    )
