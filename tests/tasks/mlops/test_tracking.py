"""MLflow tracking set-up: the store does not leak into the next run; interrupts close cell runs."""

from __future__ import annotations

import threading
from pathlib import Path

import mlflow
import pytest

from core.settings import PipelineSettings
from tasks.mlops import tracking
from tasks.mlops.tracking import (
    TrackingContext,
    close_cell_runs,
    configure_tracking,
    log_cell_run,
)


def test_configuring_a_store_does_not_export_it_to_the_next_runs_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CCSEG_MLFLOW_TRACKING_URI", raising=False)
    first, second = tmp_path / "first", tmp_path / "second"
    first_settings = PipelineSettings(work_dir=first)

    configure_tracking(first_settings.tracking_uri, "leak-check", str(first / "mlartifacts"))

    assert mlflow.get_tracking_uri() == first_settings.tracking_uri
    assert PipelineSettings(work_dir=second).tracking_uri.endswith("/second/mlflow.db")


def test_an_exported_tracking_uri_is_left_as_the_user_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_store = f"sqlite:///{tmp_path / 'user.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user_store)

    configure_tracking(f"sqlite:///{tmp_path / 'run.db'}", "leak-check", str(tmp_path / "art"))

    assert PipelineSettings(work_dir=tmp_path).tracking_uri == user_store


def test_after_an_interrupt_closes_cell_runs_a_finishing_cell_opens_no_child_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Lock()
    monkeypatch.setattr(tracking, "_cell_run_gate", gate)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = configure_tracking(uri, "gate", str(tmp_path / "art"))
    client = mlflow.MlflowClient(uri)
    parent = client.create_run(experiment_id)
    context = TrackingContext(uri, experiment_id, parent.info.run_id)
    log_cell_run(context, "before", {"k": 3}, {"silhouette": 0.3})

    close_cell_runs()
    late_cell = threading.Thread(
        target=log_cell_run, args=(context, "after", {"k": 4}, {"silhouette": 0.4}), daemon=True
    )
    late_cell.start()
    late_cell.join(timeout=2)

    assert late_cell.is_alive()  # held at the gate until the process exits
    children = client.search_runs(
        [experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [run.info.run_name for run in children] == ["before"]
    gate.release()  # only so the test's thread can end
    late_cell.join(timeout=30)
