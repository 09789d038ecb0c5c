"""Using a registered model through `mlflow.pyfunc`: load, previous answers, metrics, checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from core.errors import ParameterError
from core.settings import DriftSettings
from tasks.drift.publish import check_drift_against_champion
from tasks.mlops.champion import (
    ModelCheckError,
    evaluate_registered,
    load_segment_model,
    previous_assignments,
    verify_registered_model,
)
from tasks.segmentation.evaluation import evaluate_model


def test_a_model_that_does_not_exist_is_one_actionable_line(store) -> None:
    with pytest.raises(ParameterError) as caught:
        load_segment_model(f"models:/{store.model_name}@champion")

    message = str(caught.value)
    assert message.startswith(f"cannot load models:/{store.model_name}@champion: ")
    assert message.endswith("(run `ccseg run` first, or check MLFLOW_TRACKING_URI)")
    assert "\n" not in message


def test_no_champion_means_no_previous_assignments(store, training) -> None:
    assert previous_assignments.fn(store.model_name, training[1]) is None


def test_a_champion_from_before_the_format_change_is_not_loaded(store, register, training) -> None:
    register(tags={"grid_cell": "old"})  # no format tag: a version this code cannot load

    assert previous_assignments.fn(store.model_name, training[1]) is None


def test_a_champion_whose_files_are_gone_gives_no_previous_assignments(
    store, register, training, capsys: pytest.CaptureFixture[str]
) -> None:
    version = register()
    source = store.client.get_model_version(store.model_name, version).source
    model = store.client.get_logged_model(source.removeprefix("models:/"))
    shutil.rmtree(mlflow.artifacts.download_artifacts(model.artifact_location))

    assert previous_assignments.fn(store.model_name, training[1]) is None
    assert f"previous champion v{version} not compared: cannot load" in capsys.readouterr().out


def test_a_champion_whose_files_are_gone_is_skipped_by_the_drift_check_not_fatal(
    store, register, training, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    version = register()
    source = store.client.get_model_version(store.model_name, version).source
    model = store.client.get_logged_model(source.removeprefix("models:/"))
    shutil.rmtree(mlflow.artifacts.download_artifacts(model.artifact_location))

    result = check_drift_against_champion.fn(
        store.model_name,
        training[1],
        tmp_path / "batch.csv",
        DriftSettings(),
        store.tracking_uri,
        "unused-run-id",
    )

    assert result is None
    out = capsys.readouterr().out
    assert f"previous champion v{version} not checked for drift: cannot load" in out


def test_previous_assignments_are_the_champions_names_per_customer(
    store, register, packaged, training
) -> None:
    register()
    _, clean = training

    previous = previous_assignments.fn(store.model_name, clean)

    expected = packaged.predict(clean).set_index("CUST_ID")["segment_name"]
    pd.testing.assert_series_equal(previous, expected)


def test_the_champion_is_evaluated_with_the_grids_metrics_and_its_runs_stability(
    store, register, packaged, training
) -> None:
    result, clean = training
    register()

    metrics = evaluate_registered(f"models:/{store.model_name}@champion", clean, 400)

    assert metrics == evaluate_model(packaged, clean, 400) | {
        "stability_ari": pytest.approx(result.metrics["stability_ari"])
    }


def test_the_champion_keeps_the_stability_it_was_promoted_on_not_its_grid_estimate(
    store, register, training
) -> None:
    result, clean = training
    version = register()
    # Promotion records the finalist's re-measured stability on the version.
    store.client.set_model_version_tag(store.model_name, version, "metric.stability_ari", "0.97")

    metrics = evaluate_registered(f"models:/{store.model_name}@champion", clean, 400)

    assert metrics["stability_ari"] == 0.97
    assert result.metrics["stability_ari"] != 0.97


def test_verification_passes_when_the_version_answers_like_the_flow(
    store, register, packaged, training
) -> None:
    register()
    rows = training[1].head(20)

    verify_registered_model.fn(
        store.tracking_uri, f"models:/{store.model_name}@champion", rows, packaged.predict(rows)
    )


def test_verification_fails_when_the_version_answers_differently(
    store, register, packaged, training
) -> None:
    register()
    rows = training[1].head(20)
    expected = packaged.predict(rows).assign(segment_name="Renamed")

    with pytest.raises(ModelCheckError, match="does not reproduce the flow's own assignments"):
        verify_registered_model.fn(
            store.tracking_uri, f"models:/{store.model_name}@champion", rows, expected
        )


def test_verification_fails_when_the_version_does_not_load(store, training) -> None:
    rows = training[1].head(5)

    with pytest.raises(ModelCheckError, match="does not load and score"):
        verify_registered_model.fn(
            store.tracking_uri, f"models:/{store.model_name}@champion", rows, rows
        )
