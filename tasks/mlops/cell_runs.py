"""Prefect tasks around the grid: fit-and-log one cell, and turn the outcomes into one table.

A cell whose fit fails for a reason of its own (out of memory, a numerical error) is recorded,
not raised: its child run carries the reason, the grid table a `failure` column, and selection
goes on among the others. Only when no cell is usable does the run stop (`require_usable_cells`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from core.errors import CcsegError
from tasks.mlops.tracking import TrackingContext, log_cell_run
from tasks.segmentation.fit import CellResult, fit_cell
from tasks.segmentation.grid import GridCell
from tasks.segmentation.scale import AnalysisSample, ScaleSpec, predict_in_chunks

# Failures that belong to one cell (its size, its numbers), not to the run or the code.
CELL_FAILURES: tuple[type[BaseException], ...] = (
    MemoryError,
    FloatingPointError,
    OverflowError,
    np.linalg.LinAlgError,
    ValueError,
)
FAILURE_COLUMN = "failure"


class NoUsableCellError(CcsegError):
    """Every grid cell failed: nothing to select (the message names the first reasons)."""


@dataclass(frozen=True)
class CellOutcome:
    """A fitted cell and the MLflow child run that records it."""

    result: CellResult
    run_id: str
    failure: str | None = None  # why the cell could not be fitted (None: it was)

    @property
    def cell(self) -> GridCell:
        return self.result.cell

    @property
    def usable(self) -> bool:
        return not self.failure


def failed_outcome(cell: GridCell, error: BaseException, run_id: str) -> CellOutcome:
    """The outcome of a cell that raised: no model, no labels, no metrics, and the reason."""
    reason = f"{type(error).__name__}: {error}".strip().splitlines()[0][:500]
    empty = CellResult(cell=cell, pipeline=None, labels=np.empty(0, np.int64), metrics={})  # type: ignore[arg-type]
    return CellOutcome(result=empty, run_id=run_id, failure=reason)


# No cache: a cell's inputs are a whole frame and its output a fitted model; hashing the first
# and persisting the second would cost more than refitting. Not retried: a fit is not I/O.
@task(name="fit-and-log-cell", cache_policy=NO_CACHE, task_run_name="cell {cell.cell_id}")
def fit_and_log_cell(
    cell: GridCell,
    clean: pd.DataFrame,
    context: TrackingContext,
    stability_resamples: int,
    silhouette_sample_size: int,
    scale: ScaleSpec | None = None,
) -> CellOutcome:
    """Fit one grid cell and log its params and metrics as a child run of the flow's parent run.

    The fitted pipeline stays in memory: only the chosen cell's is logged, after selection. A
    cell failure (`CELL_FAILURES`) is logged as a child run tagged with its reason instead.
    """
    try:
        result = fit_cell(
            cell,
            clean,
            stability_resamples=stability_resamples,
            silhouette_sample_size=silhouette_sample_size,
            scale=scale,
        )
    except CELL_FAILURES as error:
        outcome = failed_outcome(cell, error, "")
        run_id = log_cell_run(context, cell.cell_id, cell.params(), {}, failure=outcome.failure)
        return CellOutcome(outcome.result, run_id, outcome.failure)
    run_id = log_cell_run(context, cell.cell_id, cell.params(), result.metrics)
    return CellOutcome(result=result, run_id=run_id)


def require_usable_cells(outcomes: list[CellOutcome]) -> list[CellOutcome]:
    """The cells that were fitted; when none was, one line that says why (the first reasons)."""
    usable = [o for o in outcomes if o.usable]
    if not usable:
        reasons = sorted({o.failure or "" for o in outcomes})
        raise NoUsableCellError(
            f"every one of the {len(outcomes)} grid cell(s) failed, nothing to select "
            f"(e.g. {'; '.join(reasons[:2])}); use a smaller grid (--grid) or lower "
            "scale.fit_sample_rows / scale.bounded_fit_rows"
        )
    return usable


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
            FAILURE_COLUMN: o.failure or "",
            **o.result.metrics,
        }
        for o in outcomes
    ]
    table = pd.DataFrame(rows)
    # A failed cell has no metrics: NaN fails every screen criterion, so it is never shortlisted.
    for column in ("bic", "noise_share", "n_segments", "silhouette", "reference_silhouette"):
        if column not in table:
            table[column] = np.nan
    return table


@task(name="assign-every-customer", cache_policy=NO_CACHE)
def assign_every_customer(
    chosen: CellOutcome, clean: pd.DataFrame, sample: AnalysisSample, chunk_rows: int
) -> CellOutcome:
    """The chosen cell with a label for every customer: as it is, or by `predict` in chunks
    when the grid worked on a sample (tasks/segmentation/scale.py)."""
    if not sample.sampled:
        return chosen
    labels = predict_in_chunks(chosen.result.pipeline, clean, chunk_rows)
    return replace(chosen, result=replace(chosen.result, labels=labels))
