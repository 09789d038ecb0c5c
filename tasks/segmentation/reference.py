"""The common reference space: one yardstick for partitions found in different feature spaces.

A silhouette measured in the space a model clustered flatters whatever that space dropped: on the
real data `behavioural_pca` k = 4 and `behavioural` k = 4 are the same partition (ARI 0.985) yet
PCA "won" on its own silhouette, because discarding 10 % of the variance shrinks within-segment
distances. Every candidate is therefore also scored here: every engineered column any feature set
uses (amounts per month, frequencies, shares, ratios), with each set's own log1p choices,
standardised, and no PCA. Raw columns are left out: they carry the same information as the
engineered ones before the tenure and skew treatment, so adding them would count it twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tasks.segmentation.features import FEATURE_SETS, FeatureEngineer
from tasks.segmentation.metrics import DEGENERATE_SILHOUETTE
from tasks.segmentation.scale import CHUNK_ROWS, transform_in_chunks

# Fixed sample seed: every cell is scored on the same customers, whatever its own seed.
REFERENCE_SAMPLE_SEED = 0


def _engineered_sets() -> list[str]:
    # raw_scaled draws on the raw columns; every other set on the engineered ones.
    return [name for name in FEATURE_SETS if name != "raw_scaled"]


def reference_columns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(columns, log1p columns): the union over the engineered feature sets, in a fixed order."""
    columns: dict[str, None] = {}
    logged: dict[str, None] = {}
    for name in _engineered_sets():
        spec = FEATURE_SETS[name]
        columns.update(dict.fromkeys(spec.columns))
        logged.update(dict.fromkeys(spec.log_columns))
    return tuple(columns), tuple(c for c in logged if c in columns)


def reference_pipeline() -> Pipeline:
    columns, logged = reference_columns()
    return Pipeline([("engineer", FeatureEngineer(columns, logged)), ("scale", StandardScaler())])


def reference_space(
    clean: pd.DataFrame, chunk_rows: int = CHUNK_ROWS, positions: np.ndarray | None = None
) -> np.ndarray:
    """The clean frame in the reference space (fitted on the same frame: scaling only).

    Engineered and scaled `chunk_rows` at a time (the scaler learns chunk by chunk, as its
    `fit` itself does in one), so a portfolio of millions never exists as features at once.
    With `positions`, the scaler still learns from every row and only those rows are returned.
    """
    engineer, scaler = reference_pipeline().named_steps.values()
    engineer.fit(clean)
    for start in range(0, len(clean), chunk_rows):
        scaler.partial_fit(engineer.transform(clean.iloc[start : start + chunk_rows]))
    pipeline = Pipeline([("engineer", engineer), ("scale", scaler)])
    rows = clean if positions is None else clean.iloc[positions]
    return transform_in_chunks(pipeline, rows, chunk_rows)


def reference_silhouette(space: np.ndarray, labels: np.ndarray, sample_size: int) -> float:
    """Silhouette of `labels` in the reference space, on a fixed seeded sample; noise left out."""
    assigned = labels >= 0
    # Only noise (HDBSCAN's -1) needs leaving out; copying 10M rows to keep them all cost 1.5 GB.
    points, kept = (space, labels) if assigned.all() else (space[assigned], labels[assigned])
    if len(np.unique(kept)) < 2:
        return DEGENERATE_SILHOUETTE
    rows = min(sample_size, len(kept))
    try:
        return float(
            silhouette_score(
                points,
                kept,
                sample_size=rows if rows < len(kept) else None,
                random_state=REFERENCE_SAMPLE_SEED,
            )
        )
    except ValueError:  # the sample drew a single segment
        return DEGENERATE_SILHOUETTE
