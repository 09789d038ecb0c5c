"""One grid cell, one child run: params, metrics and tag, and no model (only the chosen one is)."""

from __future__ import annotations

import math

import numpy as np

from tasks.mlops.cell_runs import CellOutcome, fit_and_log_cell, grid_table
from tasks.mlops.tracking import TrackingContext
from tasks.segmentation.grid import GridCell
from tasks.segmentation.metrics import METRIC_NAMES

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
