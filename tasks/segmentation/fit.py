"""Fit one grid cell: a `Pipeline(features -> model)` on the clean frame, its labels and metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from tasks.segmentation.algorithms import ParamValue, get_algorithm, resample_params
from tasks.segmentation.features import make_feature_pipeline
from tasks.segmentation.grid import GridCell
from tasks.segmentation.metrics import (
    METRIC_NAMES,
    bootstrap_stability,
    segment_shares,
    separation_metrics,
)
from tasks.segmentation.reference import reference_silhouette, reference_space


@dataclass(frozen=True)
class CellResult:
    """A fitted cell: the pipeline, a label for every row of the clean frame, and the metrics."""

    cell: GridCell
    pipeline: Pipeline = field(repr=False)
    labels: np.ndarray = field(repr=False)
    metrics: dict[str, float]


def make_cell_pipeline(
    cell: GridCell, seed: int | None = None, params: dict[str, ParamValue] | None = None
) -> Pipeline:
    """Unfitted `Pipeline([("features", ...), ("model", ...)])` for the cell.

    `seed` and `params` override the cell's own (the stability refits use both).
    """
    algorithm = get_algorithm(cell.algorithm)
    model = algorithm.build(
        cell.k,
        cell.seed if seed is None else seed,
        cell.model_params() if params is None else params,
    )
    return Pipeline([("features", make_feature_pipeline(cell.feature_set)), ("model", model)])


def _refit_labels(cell: GridCell, clean: pd.DataFrame) -> Callable[[pd.DataFrame, int], np.ndarray]:
    """A function that refits the cell's pipeline on a resample and labels every row of `clean`."""

    def fit_predict(sample: pd.DataFrame, seed: int) -> np.ndarray:
        params = resample_params(cell.algorithm, cell.model_params(), len(sample), len(clean))
        pipeline = make_cell_pipeline(cell, seed=seed, params=params)
        return np.asarray(pipeline.fit(sample).predict(clean))

    return fit_predict


def fit_cell(
    cell: GridCell,
    clean: pd.DataFrame,
    *,
    stability_resamples: int,
    silhouette_sample_size: int,
    max_threads: int | None = 1,
) -> CellResult:
    """Fit the cell on `clean` and measure it (metric names: `METRIC_NAMES`).

    Labels are `pipeline.predict(clean)`, so scoring the same rows with the logged model gives
    the same segments. The silhouette is measured twice: in the cell's own model space and in
    the common reference space (tasks/segmentation/reference.py), where feature sets compete
    on equal terms. `max_threads` caps BLAS/OpenMP threads inside the cell (None: no cap):
    the grid runs cells side by side, and nested thread pools would oversubscribe the cores.
    Stability refits the whole pipeline on each bootstrap resample (n rows; 3,000 for Ward and
    HDBSCAN, whose fits grow as n^2) and compares its labels for every row with the full fit.
    A cell that finds fewer than two segments gets `degenerate` = 1, silhouette -1 and no
    stability refits (stability 0): it is reported, not raised.
    """
    started = time.perf_counter()
    with threadpool_limits(limits=max_threads):
        pipeline = make_cell_pipeline(cell).fit(clean)
        fit_seconds = time.perf_counter() - started
        labels = np.asarray(pipeline.predict(clean), dtype=np.int64)
        space = np.asarray(pipeline[:-1].transform(clean), dtype=float)
        metrics = segment_shares(labels)
        metrics |= separation_metrics(
            space, labels, sample_size=silhouette_sample_size, seed=cell.seed
        )
        metrics["reference_silhouette"] = reference_silhouette(
            reference_space(clean), labels, silhouette_sample_size
        )
        model = pipeline[-1]
        if hasattr(model, "bic"):
            metrics["bic"] = float(model.bic(space))
        stability = (0.0, 0.0)
        if not metrics["degenerate"]:
            stability = bootstrap_stability(
                _refit_labels(cell, clean),
                clean,
                labels,
                resamples=stability_resamples,
                seed=cell.seed,
                rows=get_algorithm(cell.algorithm).stability_rows,
            )
    metrics["stability_ari"], metrics["stability_ari_std"] = stability
    metrics["fit_seconds"] = fit_seconds
    metrics["cell_seconds"] = time.perf_counter() - started
    ordered = {name: metrics[name] for name in METRIC_NAMES if name in metrics}
    return CellResult(cell=cell, pipeline=pipeline, labels=labels, metrics=ordered)
