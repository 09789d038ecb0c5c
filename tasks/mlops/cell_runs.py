"""Prefect tasks around the grid: fit-and-log one cell, and turn the outcomes into one table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.mlops.tracking import TrackingContext, log_cell_run
from tasks.segmentation.fit import CellResult, fit_cell
from tasks.segmentation.grid import GridCell


@dataclass(frozen=True)
class CellOutcome:
    """A fitted cell and the MLflow child run that records it."""

    result: CellResult
    run_id: str

    @property
    def cell(self) -> GridCell:
        return self.result.cell


# No cache: a cell's inputs are a whole frame and its output a fitted model; hashing the first
# and persisting the second would cost more than refitting. Not retried: a fit is not I/O.
@task(name="fit-and-log-cell", cache_policy=NO_CACHE, task_run_name="cell {cell.cell_id}")
def fit_and_log_cell(
    cell: GridCell,
    clean: pd.DataFrame,
    context: TrackingContext,
    stability_resamples: int,
    silhouette_sample_size: int,
) -> CellOutcome:
    """Fit one grid cell and log its params and metrics as a child run of the flow's parent run.

    The fitted pipeline stays in memory: only the chosen cell's is logged, after selection.
    """
    result = fit_cell(
        cell,
        clean,
        stability_resamples=stability_resamples,
        silhouette_sample_size=silhouette_sample_size,
    )
    run_id = log_cell_run(context, cell.cell_id, cell.params(), result.metrics)
    return CellOutcome(result=result, run_id=run_id)


def grid_table(outcomes: list[CellOutcome]) -> pd.DataFrame:
    """One row per cell: identity, MLflow run id and every metric (NaN where undefined)."""
    rows = [
        {
            "cell_id": o.cell.cell_id,
            "feature_set": o.cell.feature_set,
            "algorithm": o.cell.algorithm,
            "k": o.cell.k if o.cell.k is not None else np.nan,
            "seed": o.cell.seed,
            "run_id": o.run_id,
            **o.result.metrics,
        }
        for o in outcomes
    ]
    table = pd.DataFrame(rows)
    for column in ("bic", "noise_share"):
        if column not in table:
            table[column] = np.nan
    return table
