"""The grid's metrics, with FIXED names (the MLflow UI compares runs by them), and their meaning."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

# name -> meaning. Separation metrics are computed in the space the model clustered (the
# transformed features), on the rows assigned to a segment (HDBSCAN's noise is left out).
METRIC_DOCS: dict[str, str] = {
    "silhouette": "mean silhouette on a seeded sample, in [-1, 1]; higher = better separated",
    "reference_silhouette": "silhouette of the same segments in the common reference space "
    "(tasks/segmentation/reference.py): comparable across feature sets, unlike `silhouette`",
    "silhouette_sample_size": "rows the silhouette was computed on",
    "davies_bouldin": "Davies-Bouldin index; lower = better separated",
    "calinski_harabasz": "Calinski-Harabasz index; higher = better separated",
    "bic": "Bayesian information criterion of the Gaussian mixture (GMM only), recorded for "
    "reference; the selection rule does not use it",
    "n_segments": "segments found (noise not counted)",
    "min_segment_share": "share of all customers in the smallest segment",
    "max_segment_share": "share of all customers in the largest segment",
    "noise_share": "share of customers labelled noise (-1); 0 for methods without noise",
    "stability_ari": "mean ARI between the full fit and refits on bootstrap resamples (the grid's "
    "screen; finalists are re-measured with 50 or more)",
    "stability_ari_std": "standard deviation of those ARIs",
    "fit_rows": "customers the model was fitted on (fewer than the frame for Ward and HDBSCAN "
    "above ScaleSpec.bounded_fit_rows: their fit grows as n^2)",
    "fit_seconds": "wall time of the full fit of the pipeline (features + model)",
    "cell_seconds": "wall time of the whole cell: fit, metrics and stability refits",
    "degenerate": "1 when fewer than two segments were found: the cell is unusable",
}
METRIC_NAMES: tuple[str, ...] = tuple(METRIC_DOCS)

# Values that mark a degenerate cell unusable while staying finite (MLflow drops NaN and inf).
DEGENERATE_SILHOUETTE = -1.0
DEGENERATE_DAVIES_BOULDIN = 1e6


def segment_shares(labels: np.ndarray) -> dict[str, float]:
    """How many segments, how big the smallest and largest, and how much noise (label -1)."""
    n = len(labels)
    assigned = labels[labels >= 0]
    counts = np.unique(assigned, return_counts=True)[1]
    return {
        "n_segments": float(len(counts)),
        "min_segment_share": float(counts.min() / n) if len(counts) else 0.0,
        "max_segment_share": float(counts.max() / n) if len(counts) else 0.0,
        "noise_share": float((labels < 0).mean()) if n else 0.0,
    }


def separation_metrics(
    space: np.ndarray, labels: np.ndarray, *, sample_size: int, seed: int
) -> dict[str, float]:
    """Silhouette (sampled when there are more rows than `sample_size`), Davies-Bouldin, C-H.

    With fewer than two segments none is defined: the degenerate values are returned instead.
    """
    assigned = labels >= 0
    # Only noise (HDBSCAN's -1) needs leaving out; copying 10M rows to keep them all cost 1.5 GB.
    points, kept = (space, labels) if assigned.all() else (space[assigned], labels[assigned])
    if len(np.unique(kept)) < 2:
        return {
            "silhouette": DEGENERATE_SILHOUETTE,
            "silhouette_sample_size": 0.0,
            "davies_bouldin": DEGENERATE_DAVIES_BOULDIN,
            "calinski_harabasz": 0.0,
            "degenerate": 1.0,
        }
    rows = min(sample_size, len(kept))
    try:
        silhouette = silhouette_score(
            points, kept, sample_size=rows if rows < len(kept) else None, random_state=seed
        )
    except ValueError:  # the sample drew a single segment: a tiny segment, as bad as it gets
        silhouette = DEGENERATE_SILHOUETTE
    return {
        "silhouette": float(silhouette),
        "silhouette_sample_size": float(rows),
        "davies_bouldin": float(davies_bouldin_score(points, kept)),
        "calinski_harabasz": float(calinski_harabasz_score(points, kept)),
        "degenerate": 0.0,
    }


def bootstrap_refits(
    fit_predict: Callable[[pd.DataFrame, int], np.ndarray],
    clean: pd.DataFrame,
    *,
    resamples: int,
    seed: int,
    rows: int | None = None,
) -> Iterator[np.ndarray]:
    """Labels for every row of `clean` from refits on `resamples` bootstrap resamples.

    Each refit sees `rows` rows drawn with replacement (all n when None), then labels every
    customer; `fit_predict(sample, seed)` must refit the whole pipeline on the sample.
    """
    n = len(clean)
    size = n if rows is None else min(rows, n)
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        picked = np.sort(rng.integers(0, n, size=size))
        sample = clean.iloc[picked].reset_index(drop=True)
        yield fit_predict(sample, int(rng.integers(0, 2**31 - 1)))


def bootstrap_stability(
    fit_predict: Callable[[pd.DataFrame, int], np.ndarray],
    clean: pd.DataFrame,
    reference: np.ndarray,
    *,
    resamples: int,
    seed: int,
    rows: int | None = None,
) -> tuple[float, float]:
    """Mean and std of the ARI between `reference` and refits on bootstrap resamples."""
    scores = [
        adjusted_rand_score(reference, labels)
        for labels in bootstrap_refits(
            fit_predict, clean, resamples=resamples, seed=seed, rows=rows
        )
    ]
    return float(np.mean(scores)), float(np.std(scores))


def segment_jaccard(reference: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """For each reference segment, the Jaccard index with its best match in `labels`.

    Hennig's cluster-wise stability: near 1, the segment comes back whole; below 0.5, it
    dissolved. Noise (-1) is not a segment on either side.
    """
    reference = np.asarray(reference)
    labels = np.asarray(labels)
    segments = np.unique(reference[reference >= 0])
    others = np.unique(labels[labels >= 0])
    if len(others) == 0:
        return {int(s): 0.0 for s in segments}
    table = pd.crosstab(reference, labels).reindex(index=segments, columns=others, fill_value=0)
    both = table.to_numpy(dtype=float)
    ref_sizes = np.array([(reference == s).sum() for s in segments], dtype=float)
    new_sizes = np.array([(labels == o).sum() for o in others], dtype=float)
    jaccard = both / (ref_sizes[:, None] + new_sizes[None, :] - both)
    return {int(s): float(v) for s, v in zip(segments, jaccard.max(axis=1), strict=True)}
