"""The flow's parent run: tags to find it by, row counts, the grid, the choice and why."""

from __future__ import annotations

import json

import mlflow
import pandas as pd

from tasks.data.ingest import ValidationSummary
from tasks.mlops.run_logging import log_selection, log_validation, parent_run_tags
from tasks.segmentation.grid import parse_grid_spec
from tasks.segmentation.selection import Selection

SUMMARY = ValidationSummary(
    source="drop.csv",
    sha256="ab" * 32,
    rows_in=10,
    rows_clean=8,
    rows_quarantined=2,
    hard_rule_counts={"not_a_number": 2},
    soft_rule_counts={},
)
GRID = parse_grid_spec(
    {"feature_sets": ["log_scaled"], "algorithms": [{"name": "kmeans", "ks": [3, 4]}]}
)
TABLE = pd.DataFrame(
    {
        "cell_id": ["a", "b"],
        "n_segments": [3.0, 4.0],
        "min_segment_share": [0.2, 0.1],
        "noise_share": [0.0, 0.0],
        "stability_ari": [0.9, 0.95],
        "silhouette": [0.30, 0.10],
    }
)


def test_parent_tags_find_the_run_from_prefect_the_data_or_the_code() -> None:
    assert parent_run_tags("flow-1", "sha", "abc", True) == {
        "prefect.flow_run_id": "flow-1",
        "data.sha256": "sha",
        "code.version": "abc",
        "data.synthetic": "true",
    }
    assert parent_run_tags(None, "sha", "abc", False)["prefect.flow_run_id"] == "none"


def test_validation_is_logged_as_comparable_metrics_and_full_artifacts(store) -> None:
    with mlflow.start_run(experiment_id=store.experiment_id) as run:
        log_validation(SUMMARY, GRID, 2)

    logged = store.client.get_run(run.info.run_id)
    assert logged.data.metrics == {"rows_in": 10.0, "rows_clean": 8.0, "rows_quarantined": 2.0}
    assert logged.data.params == {"data_source": "drop.csv", "grid_cells": "2"}
    validation = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/validation/validation.json")
    assert validation == SUMMARY.to_dict()
    grid = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/grid/grid_spec.json")
    assert json.loads(grid)["algorithms"][0]["ks"] == [3, 4]


def test_the_choice_is_logged_with_its_metrics_eligibility_and_reasoning(store) -> None:
    selection = Selection(
        chosen_cell_id="a",
        eligible=pd.Series([True, False]),
        reasoning="**a** separates best among the qualified finalists.",
        relaxed=False,
        finalists=pd.DataFrame({"cell_id": ["a"], "qualified": [True], "chosen": [True]}),
    )

    with mlflow.start_run(experiment_id=store.experiment_id) as run:
        log_selection(TABLE, selection, {"silhouette": 0.30, "bic": float("nan")})

    logged = store.client.get_run(run.info.run_id)
    assert logged.data.tags["chosen_cell"] == selection.chosen_cell_id == "a"
    assert logged.data.metrics == {"silhouette": 0.30}  # NaN is left out, not faked
    uri = f"runs:/{run.info.run_id}"
    graded = pd.read_csv(mlflow.artifacts.download_artifacts(f"{uri}/grid/grid_results.csv"))
    assert graded["eligible"].tolist() == [True, False]
    assert mlflow.artifacts.load_text(f"{uri}/selection/reasoning.md") == selection.reasoning
    assert mlflow.artifacts.load_dict(f"{uri}/selection/selection.json") == {"relaxed": False}
