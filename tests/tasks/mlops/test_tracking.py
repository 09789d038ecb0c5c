"""MLflow tracking set-up: pointing MLflow at a store must not leak into the next run's settings."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from core.settings import PipelineSettings
from tasks.mlops.tracking import configure_tracking


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
