"""Re-measure a shortlisted cell so that neither the optimiser nor resampling noise decides.

The grid measures each cell once: one seed, a few k-means starts, 10 bootstrap resamples. On the
real data that left the choice of k resting on a spread of 0.17 and, at k = 3 and k = 6, on seeds
that disagreed with each other (ARI 0.66 and 0.57). A finalist is refitted here with several seeds
and `n_init` starts (the optimiser's share of the variation shows as seed agreement), and resampled
at least 50 times: stability becomes a mean with a confidence interval, and each segment gets its
own stability (the Jaccard index of its best match in each resample, Hennig 2007).

Resamples and refits use at most `max_rows` customers (a fixed seeded subsample beyond that), so
the cost is bounded whatever the size of the portfolio; Ward and HDBSCAN, whose fits grow as n^2,
at most `bounded_fit_rows` (the grid's own bound): Ward on 20,000 rows holds a 1.6 GB distance
matrix, twice over while it builds the tree.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from tasks.segmentation.algorithms import ParamValue, get_algorithm, resample_params
from tasks.segmentation.fit import make_cell_pipeline
from tasks.segmentation.grid import FinalistSpec, GridCell
from tasks.segmentation.metrics import bootstrap_refits, segment_jaccard, separation_metrics
from tasks.segmentation.reference import reference_silhouette, reference_space

CONFIDENCE = 0.95
# Resamples of the resample means for the confidence interval (numpy only: milliseconds).
CI_BOOTSTRAP = 2_000
# Hennig's reading of a segment's mean Jaccard: below it the segment tends to dissolve.
DISSOLVED_JACCARD = 0.5


@dataclass(frozen=True)
class StabilityEstimate:
    """Bootstrap ARIs of refits against the chosen labels, summarised with a confidence interval."""

    mean: float
    ci_low: float
    ci_high: float
    p05: float  # a bad resample: 5 % of refits agree less than this
    resamples: int


@dataclass(frozen=True)
class FinalistResult:
    """One finalist, re-measured."""

    cell: GridCell
    n_segments: int
    reference_silhouette: float  # mean over seeds
    silhouette: float  # own space, mean over seeds
    seeds: int
    n_init: int | None
    seed_agreement: float  # mean pairwise ARI between the seeds' fits (1 when deterministic)
    registered_agreement: float  # mean ARI between the grid's fit and the seeds' fits
    stability: StabilityEstimate
    segment_jaccard: dict[int, float]
    rows: int
    seconds: float
    scores: tuple[float, ...] = field(repr=False, default=())

    def as_row(self) -> dict[str, Any]:
        return {
            "cell_id": self.cell.cell_id,
            "feature_set": self.cell.feature_set,
            "algorithm": self.cell.algorithm,
            "k": self.cell.k,
            "n_segments": self.n_segments,
            "reference_silhouette": self.reference_silhouette,
            "silhouette": self.silhouette,
            "seeds": self.seeds,
            "n_init": self.n_init,
            "seed_agreement": self.seed_agreement,
            "registered_agreement": self.registered_agreement,
            "stability_mean": self.stability.mean,
            "stability_ci_low": self.stability.ci_low,
            "stability_ci_high": self.stability.ci_high,
            "stability_p05": self.stability.p05,
            "resamples": self.stability.resamples,
            "min_segment_jaccard": min(self.segment_jaccard.values(), default=float("nan")),
            "segment_jaccard": dict(self.segment_jaccard),
            "rows": self.rows,
            "seconds": self.seconds,
        }


def summarise_scores(scores: list[float], seed: int) -> StabilityEstimate:
    """Mean ARI with a percentile-bootstrap confidence interval for the mean, and the 5th pct."""
    values = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(CI_BOOTSTRAP, len(values)), replace=True).mean(axis=1)
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return StabilityEstimate(
        mean=float(values.mean()),
        ci_low=float(low),
        ci_high=float(high),
        p05=float(np.quantile(values, 0.05)),
        resamples=len(values),
    )


# k-means starts are cheap and its local optima are the optimiser noise to remove; a Gaussian
# mixture's EM restarts cost ten times more and its seeds already agreed (ARI 1.00) on the real
# data, so mixtures keep their own n_init and are judged by seed agreement.
MORE_STARTS = ("kmeans", "minibatch_kmeans")


def finalist_params(cell: GridCell, n_init: int) -> dict[str, ParamValue]:
    """The cell's parameters with at least `n_init` starts for the k-means family."""
    params = cell.model_params()
    if cell.algorithm in MORE_STARTS:
        params["n_init"] = max(n_init, int(params.get("n_init") or 1))
    return params


def universe(n: int, max_rows: int, seed: int) -> np.ndarray:
    """The rows a finalist is measured on: all of them, or a fixed sample of `max_rows`."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))


def _mean_pairwise_ari(fits: list[np.ndarray]) -> float:
    pairs = list(itertools.combinations(fits, 2))
    if not pairs:
        return 1.0
    return float(np.mean([adjusted_rand_score(a, b) for a, b in pairs]))


def evaluate_finalist(
    cell: GridCell,
    clean: pd.DataFrame,
    labels: np.ndarray,
    spec: FinalistSpec,
    silhouette_sample_size: int,
    max_threads: int | None = 1,
    bounded_fit_rows: int | None = None,
) -> FinalistResult:
    """Refit `cell` with several seeds and more starts; bootstrap it against its grid `labels`."""
    started = time.perf_counter()
    algorithm = get_algorithm(cell.algorithm)
    max_rows = spec.max_rows
    if algorithm.bounded_fit and bounded_fit_rows is not None:
        max_rows = min(max_rows, bounded_fit_rows)
    rows = universe(len(clean), max_rows, cell.seed)
    frame = clean.iloc[rows].reset_index(drop=True)
    registered = np.asarray(labels)[rows]
    params = finalist_params(cell, spec.n_init)
    seeds = [cell.seed + i for i in range(spec.seeds)] if algorithm.seeded else [cell.seed]
    with threadpool_limits(limits=max_threads):
        reference = reference_space(frame)
        fits, own, common = [], [], []
        for seed in seeds:
            pipeline = make_cell_pipeline(cell, seed=seed, params=params).fit(frame)
            space = np.asarray(pipeline[:-1].transform(frame), dtype=float)
            found = np.asarray(pipeline[-1].predict(space), dtype=np.int64)
            fits.append(found)
            own.append(
                separation_metrics(space, found, sample_size=silhouette_sample_size, seed=seed)[
                    "silhouette"
                ]
            )
            common.append(reference_silhouette(reference, found, silhouette_sample_size))

        def fit_predict(sample: pd.DataFrame, seed: int) -> np.ndarray:
            scaled = resample_params(cell.algorithm, params, len(sample), len(frame))
            pipeline = make_cell_pipeline(cell, seed=seed, params=scaled)
            return np.asarray(pipeline.fit(sample).predict(frame))

        scores, jaccards = [], []
        for refit in bootstrap_refits(
            fit_predict,
            frame,
            resamples=spec.resamples,
            seed=cell.seed,
            rows=algorithm.stability_rows,
        ):
            scores.append(float(adjusted_rand_score(registered, refit)))
            jaccards.append(segment_jaccard(registered, refit))
    per_segment = pd.DataFrame(jaccards).mean().to_dict() if jaccards else {}
    return FinalistResult(
        cell=cell,
        n_segments=len(np.unique(registered[registered >= 0])),
        reference_silhouette=float(np.mean(common)),
        silhouette=float(np.mean(own)),
        seeds=len(seeds),
        n_init=int(params["n_init"]) if "n_init" in params else None,
        seed_agreement=_mean_pairwise_ari(fits),
        registered_agreement=float(np.mean([adjusted_rand_score(registered, f) for f in fits])),
        stability=summarise_scores(scores, cell.seed),
        segment_jaccard={int(k): float(v) for k, v in per_segment.items()},
        rows=len(rows),
        seconds=time.perf_counter() - started,
        scores=tuple(scores),
    )


# Not cached (a frame in, numbers out; refitting is cheaper than hashing) and not retried.
@task(name="evaluate-finalist", cache_policy=NO_CACHE, task_run_name="finalist {cell.cell_id}")
def evaluate_finalist_task(
    cell: GridCell,
    clean: pd.DataFrame,
    labels: np.ndarray,
    spec: FinalistSpec,
    silhouette_sample_size: int,
    bounded_fit_rows: int | None = None,
) -> FinalistResult:
    """`evaluate_finalist`, as a step of the segmentation flow (finalists run side by side)."""
    return evaluate_finalist(
        cell, clean, labels, spec, silhouette_sample_size, bounded_fit_rows=bounded_fit_rows
    )
