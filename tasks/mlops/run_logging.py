"""What the flow's parent MLflow run records: validation, the grid, the choice, the outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping

import mlflow
import pandas as pd

from tasks.data.ingest import ValidationSummary
from tasks.mlops.tracking import (
    TAG_CODE_VERSION,
    TAG_DATA_SHA,
    TAG_FLOW_RUN,
    TAG_SYNTHETIC,
    clean_metrics,
)
from tasks.segmentation.grid import GridSpec
from tasks.segmentation.selection import Selection

CHOSEN_CELL_TAG = "chosen_cell"


def parent_run_tags(
    flow_run_id: str | None, data_sha256: str, version: str, is_synthetic: bool
) -> dict[str, str]:
    return {
        TAG_FLOW_RUN: flow_run_id or "none",
        TAG_DATA_SHA: data_sha256,
        TAG_CODE_VERSION: version,
        TAG_SYNTHETIC: str(is_synthetic).lower(),
    }


def log_validation(summary: ValidationSummary, grid: GridSpec, n_cells: int) -> None:
    """Row counts as metrics (comparable across runs), the full summary and grid as artifacts."""
    mlflow.log_metrics(
        {
            "rows_in": summary.rows_in,
            "rows_clean": summary.rows_clean,
            "rows_quarantined": summary.rows_quarantined,
        }
    )
    mlflow.log_params({"data_source": summary.source, "grid_cells": n_cells})
    mlflow.log_dict(summary.to_dict(), "validation/validation.json")
    mlflow.log_text(grid.model_dump_json(indent=2), "grid/grid_spec.json")


def log_selection(table: pd.DataFrame, selection: Selection, metrics: Mapping[str, float]) -> None:
    """The chosen cell's metrics under the grid's own names, so parent runs compare side by side."""
    mlflow.log_metrics(clean_metrics(metrics))
    mlflow.set_tag(CHOSEN_CELL_TAG, selection.chosen_cell_id)
    graded = table.assign(eligible=selection.eligible.to_numpy())
    mlflow.log_text(graded.to_csv(index=False), "grid/grid_results.csv")
    mlflow.log_text(selection.reasoning, "selection/reasoning.md")
    mlflow.log_text(json.dumps({"relaxed": selection.relaxed}), "selection/selection.json")
