"""One grid cell, one child run: params, metrics and tag, and no model (only the chosen one is)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasks.mlops.cell_runs import (
    CellOutcome,
    NoUsableCellError,
    failed_outcome,
    fit_and_log_cell,
    grid_table,
    require_usable_cells,
)
from tasks.mlops.tracking import TrackingContext
from tasks.segmentation.grid import GridCell
from tasks.segmentation.metrics import METRIC_NAMES
from tasks.segmentation.selection import shortlist

from .conftest import CELL


def test_a_cell_is_logged_as_a_child_run_with_params_and_metrics_only(store, training) -> None:
    _, clean = training
    parent = store.client.create_run(store.experiment_id)
    context = TrackingContext(store.tracking_uri, store.experiment_id, parent.info.run_id)

    outcome = fit_and_log_cell.fn(CELL, clean, context, 10, 400)

    run = store.client.get_run(outcome.run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert run.data.tags["grid_cell"] == CELL.cell_id
    assert run.data.params == {k: str(v) for k, v in CELL.params().items()}
    assert set(run.data.metrics) == set(METRIC_NAMES) - {"bic"}
    assert run.data.metrics["silhouette"] == outcome.result.metrics["silhouette"]
    assert store.client.list_artifacts(outcome.run_id) == []
    assert list(store.client.search_logged_models([store.experiment_id])) == []


def test_the_grid_table_has_one_row_per_cell_and_nan_where_a_metric_is_undefined(
    training,
) -> None:
    result, _ = training
    hdbscan = GridCell("log_scaled", "hdbscan", None, 0, (("min_cluster_size", 50),))
    outcomes = [
        CellOutcome(result, "run-a"),
        CellOutcome(
            type(result)(hdbscan, result.pipeline, result.labels, {"silhouette": 0.1}), "run-b"
        ),
    ]

    table = grid_table(outcomes)

    assert table["cell_id"].tolist() == [CELL.cell_id, hdbscan.cell_id]
    assert table["run_id"].tolist() == ["run-a", "run-b"]
    assert table.loc[0, "k"] == 3 and math.isnan(table.loc[1, "k"])
    assert np.isnan(table.loc[0, "bic"]) and np.isnan(table.loc[1, "noise_share"])
    assert table.loc[1, "silhouette"] == 0.1


def test_a_cell_that_fails_is_a_failed_child_run_with_its_reason(store, training) -> None:
    _, clean = training
    parent = store.client.create_run(store.experiment_id)
    context = TrackingContext(store.tracking_uri, store.experiment_id, parent.info.run_id)
    too_many = GridCell("log_scaled", "kmeans", 8, 0, (("max_iter", 300), ("n_init", 1)))

    outcome = fit_and_log_cell.fn(too_many, clean.head(5), context, 10, 400)

    assert not outcome.usable and outcome.failure.startswith("ValueError: n_samples=5")
    run = store.client.get_run(outcome.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert run.data.tags["ccseg.cell_status"] == "failed"
    assert run.data.tags["ccseg.cell_failure"] == outcome.failure
    assert run.data.params["k"] == "8"


def test_a_failed_cell_is_a_grid_row_with_its_reason_and_never_shortlisted(training) -> None:
    result, _ = training
    broken = GridCell("log_scaled", "gmm", 4, 0)
    outcomes = [
        CellOutcome(result, "run-a"),
        failed_outcome(broken, MemoryError("Unable to allocate 37.3 GiB"), "run-b"),
    ]

    table = grid_table(outcomes)
    finalists, _ = shortlist(table, {o.cell.cell_id: o.result.labels for o in outcomes[:1]}, 4)

    assert table["failure"].tolist() == ["", "MemoryError: Unable to allocate 37.3 GiB"]
    assert np.isnan(table.loc[1, "silhouette"]) and np.isnan(table.loc[1, "n_segments"])
    assert finalists == [CELL.cell_id]
    assert require_usable_cells(outcomes) == outcomes[:1]


def test_when_every_cell_fails_the_run_stops_with_one_line_naming_a_reason() -> None:
    cells = [GridCell("log_scaled", "ward", k, 0) for k in (3, 4)]
    outcomes = [failed_outcome(c, MemoryError("Unable to allocate 37.3 GiB"), "r") for c in cells]

    with pytest.raises(NoUsableCellError) as error:
        require_usable_cells(outcomes)

    message = str(error.value)
    assert "every one of the 2 grid cell(s) failed" in message
    assert "MemoryError: Unable to allocate 37.3 GiB" in message and "\n" not in message
