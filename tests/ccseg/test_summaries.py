"""The end-of-run summary: where everything is, how to open the MLflow UI, and SYNTHETIC if so."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ccseg.summaries import mlflow_ui_command, run_summary
from flows.segmentation import SegmentationSummary
from tasks.mlops.registry import Promotion


def _summary(work: Path, synthetic: bool, tracking_uri: str) -> SegmentationSummary:
    return SegmentationSummary(
        parent_run_id="abc",
        chosen_cell_id="log_scaled|kmeans|k=4|seed=0",
        n_segments=4,
        rows_in=1_000,
        rows_clean=998,
        rows_quarantined=2,
        promotion=Promotion("cc-segmentation", "1", "champion", None, "First champion."),
        segments_path=work / "outputs" / "segments.csv",
        report_path=work / "reports" / "segmentation_report.html",
        is_synthetic=synthetic,
        work_dir=work,
        tracking_uri=tracking_uri,
    )


def test_a_real_run_names_its_files_store_and_the_ui_command(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    text = run_summary(_summary(tmp_path, False, uri))

    assert text.splitlines() == [
        "chosen log_scaled|kmeans|k=4|seed=0: 4 segments over 998 customers (2 quarantined)",
        "registry: First champion.",
        f"segments: {tmp_path / 'outputs' / 'segments.csv'}",
        f"report: {tmp_path / 'reports' / 'segmentation_report.html'}",
        f"working folder: {tmp_path}",
        f"MLflow store: {uri}",
        f"MLflow UI: {mlflow_ui_command(uri)}",
        "compare runs: ccseg history; in the MLflow UI choose 'Model training' (top left)",
    ]
    assert "SYNTHETIC" not in text


def test_a_synthetic_run_says_so_on_every_line(tmp_path: Path) -> None:
    text = run_summary(_summary(tmp_path / "synthetic", True, "sqlite:///x.db"))

    lines = text.splitlines()
    assert all(line.startswith("[SYNTHETIC DATA] ") for line in lines)
    assert "generated customers, not real ones" in lines[0]
    assert lines[-1] == (
        "[SYNTHETIC DATA] compare runs: ccseg history --synthetic; "
        "in the MLflow UI choose 'Model training' (top left)"
    )


def test_the_ui_command_is_the_installed_mlflow_with_this_store() -> None:
    command = mlflow_ui_command("sqlite:////work/mlflow.db")

    assert command == (
        f"{Path(sys.executable).with_name('mlflow')} ui "
        "--backend-store-uri sqlite:////work/mlflow.db --port 5000"
    )


@pytest.mark.parametrize("uri", ["http://127.0.0.1:5000", "https://mlflow.example"])
def test_a_tracking_server_is_its_own_ui(uri: str) -> None:
    assert mlflow_ui_command(uri) == f"open {uri} (the tracking server serves the UI)"
