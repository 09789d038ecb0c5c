"""Fit one grid cell: a `Pipeline(features -> model)` on the clean frame, its labels and metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import MiniBatchKMeans
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
from tasks.segmentation.scale import ScaleSpec, predict_in_chunks, seeded_positions

# Mini-batch k-means for fits above ScaleSpec.minibatch_above_rows: fewer starts, big batches.
MINIBATCH_N_INIT = 3
MINIBATCH_BATCH_SIZE = 4_096


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


def _fit_rows(cell: GridCell, clean: pd.DataFrame, scale: ScaleSpec) -> pd.DataFrame:
    """The rows the cell is fitted on: all, or a seeded bounded sample for O(n^2) algorithms."""
    if not get_algorithm(cell.algorithm).bounded_fit:
        return clean
    positions = seeded_positions(len(clean), scale.bounded_fit_rows, cell.seed)
    return clean if positions is None else clean.iloc[positions]


def _scaled_pipeline(cell: GridCell, fit_rows: int, all_rows: int, scale: ScaleSpec) -> Pipeline:
    """The cell's pipeline for a fit on `fit_rows` of `all_rows` customers.

    HDBSCAN's minimum segment size is a number of customers of the whole frame: on a bounded
    sample it shrinks in proportion (as in the stability refits). k-means above
    `minibatch_above_rows` becomes mini-batch k-means.
    """
    if cell.algorithm == "kmeans" and fit_rows > scale.minibatch_above_rows:
        pipeline = make_cell_pipeline(cell)
        pipeline.steps[-1] = (
            "model",
            MiniBatchKMeans(
                n_clusters=cell.k,
                n_init=MINIBATCH_N_INIT,
                batch_size=MINIBATCH_BATCH_SIZE,
                random_state=cell.seed,
            ),
        )
        return pipeline
    params = resample_params(cell.algorithm, cell.model_params(), fit_rows, all_rows)
    return make_cell_pipeline(cell, params=params)


def fit_cell(
    cell: GridCell,
    clean: pd.DataFrame,
    *,
    stability_resamples: int,
    silhouette_sample_size: int,
    max_threads: int | None = 1,
    scale: ScaleSpec | None = None,
) -> CellResult:
    """Fit the cell on `clean` and measure it (metric names: `METRIC_NAMES`).

    Labels are `pipeline.predict(clean)` (in chunks of `scale.predict_chunk_rows`), so scoring
    the same rows with the logged model gives the same segments. Ward and HDBSCAN fit on at most
    `scale.bounded_fit_rows` rows (tasks/segmentation/scale.py); `fit_rows` records how many.
    The silhouette is measured twice: in the cell's own model space and in
    the common reference space (tasks/segmentation/reference.py), where feature sets compete
    on equal terms. `max_threads` caps BLAS/OpenMP threads inside the cell (None: no cap):
    the grid runs cells side by side, and nested thread pools would oversubscribe the cores.
    Stability refits the whole pipeline on each bootstrap resample (n rows, at most
    `scale.stability_rows`; 3,000 for Ward and HDBSCAN, whose fits grow as n^2) and compares
    its labels for every row with the full fit.
    A cell that finds fewer than two segments gets `degenerate` = 1, silhouette -1 and no
    stability refits (stability 0): it is reported, not raised.
    """
    scale = scale or ScaleSpec()
    started = time.perf_counter()
    with threadpool_limits(limits=max_threads):
        fit_frame = _fit_rows(cell, clean, scale)
        pipeline = _scaled_pipeline(cell, len(fit_frame), len(clean), scale).fit(fit_frame)
        fit_seconds = time.perf_counter() - started
        labels = predict_in_chunks(pipeline, clean, scale.predict_chunk_rows)
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
            own_cap = get_algorithm(cell.algorithm).stability_rows
            stability = bootstrap_stability(
                _refit_labels(cell, clean),
                clean,
                labels,
                resamples=stability_resamples,
                seed=cell.seed,
                rows=min(scale.stability_rows, own_cap or scale.stability_rows),
            )
    metrics["stability_ari"], metrics["stability_ari_std"] = stability
    metrics["fit_rows"] = float(len(fit_frame))
    metrics["fit_seconds"] = fit_seconds
    metrics["cell_seconds"] = time.perf_counter() - started
    ordered = {name: metrics[name] for name in METRIC_NAMES if name in metrics}
    return CellResult(cell=cell, pipeline=pipeline, labels=labels, metrics=ordered)
