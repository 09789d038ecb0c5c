"""`ccseg gc --keep N`: one summary line on success, one error line and exit 2 on bad input."""

from __future__ import annotations

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


def two_flow_runs(work_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Two parent runs, each with one 300-byte artifact, oldest first (set-up output dropped)."""
    settings = PipelineSettings(work_dir=work_dir)
    experiment = configure_tracking(
        settings.tracking_uri, settings.experiment_name, settings.artifact_location
    )
    client = MlflowClient(settings.tracking_uri)
    note = work_dir / "note.txt"
    note.write_text("x" * 300)
    runs = []
    for _ in range(2):
        run = client.create_run(experiment)
        client.log_artifact(run.info.run_id, str(note), "report")
        client.set_terminated(run.info.run_id)
        runs.append(run.info.run_id)
    capsys.readouterr()
    return runs


def test_gc_keeps_the_newest_runs_and_says_what_it_freed(
    work_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older, newer = two_flow_runs(work_dir, capsys)

    assert main(["gc", "--keep", "1"]) == 0

    assert capsys.readouterr().out == (
        "kept 1 newest run(s) whole; freed 300 bytes of 1 older run(s) and their 0 grid cell "
        "run(s): 0 model(s) deleted, 0 kept because a registered version uses them\n"
    )
    client = MlflowClient(PipelineSettings(work_dir=work_dir).tracking_uri)
    assert client.list_artifacts(older) == []
    assert [a.path for a in client.list_artifacts(newer)] == ["report"]


def test_gc_dry_run_deletes_nothing(work_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    older, _ = two_flow_runs(work_dir, capsys)

    assert main(["gc", "--keep", "1", "--dry-run"]) == 0

    assert "would free 300 bytes" in capsys.readouterr().out
    client = MlflowClient(PipelineSettings(work_dir=work_dir).tracking_uri)
    assert [a.path for a in client.list_artifacts(older)] == ["report"]


@pytest.mark.parametrize("keep", ["0", "-1"])
def test_gc_refuses_to_keep_fewer_than_one_run(
    keep: str, work_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_flow_runs(work_dir, capsys)

    assert main(["gc", "--keep", keep]) == 2

    assert capsys.readouterr().err == (
        f"ccseg: error: --keep must be a whole number of runs, at least 1; got {int(keep)}\n"
    )


@pytest.mark.parametrize("argv", [["gc"], ["gc", "--keep", "three"], ["gc", "--keep", "1.5"]])
def test_gc_usage_errors_exit_2_without_a_traceback(
    argv: list[str], work_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2

    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ccseg: error: ") and "'--keep'" in lines[0]
    assert lines[0].endswith("(see 'ccseg gc --help')")


def test_gc_without_a_store_names_where_it_looked_and_creates_nothing(
    work_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gc", "--keep", "1"]) == 2

    assert capsys.readouterr().err == (
        f"ccseg: error: no MLflow store at {(work_dir / 'mlflow.db').resolve()} "
        "(set CCSEG_WORK_DIR or MLFLOW_TRACKING_URI)\n"
    )
    assert list(work_dir.iterdir()) == []
