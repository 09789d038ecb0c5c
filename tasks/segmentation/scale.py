"""The scale path: what the grid fits on when the portfolio is large, and assignment in chunks.

Below `ScaleSpec.sample_above_rows` clean customers nothing changes: every cell fits on every
customer (the real file, 8,950 rows, is below). Above it, the grid, the shortlist and the
finalists all work on one seeded sample of `fit_sample_rows` customers (its seed and row count
are logged on the parent run), and the chosen model then assigns every customer with `predict`,
`predict_chunk_rows` at a time, so memory grows with the chunk, not with the portfolio.

Why an 8,000-customer sample by default: about the size the grid was designed and timed on (the
real file, 8,950), so the grid costs what it costs there whatever the portfolio; with at most 8
segments it leaves 1,000 customers a segment on average, and on planted segments it loses no
accuracy (BENCHMARKS.md: ARI 0.98 at 1M and 10M as at 10k). Measured at 1M customers: a 20,000
sample took 128 s of grid, 10,000 took 102 s and peaked at 3.3 GB (two Ward cells side by side).
Raise it in the grid spec to resolve segments smaller than ~1 % of customers.

Independently of size, algorithms whose fit grows as n^2 (Ward's distance matrix, HDBSCAN's
mutual-reachability graph) fit on at most `bounded_fit_rows` customers and label the rest by
their nearest training row: their saved model therefore holds at most that many rows. Stability
resamples are at most `stability_rows` rows for every algorithm. k-means cells whose fit sample
exceeds `minibatch_above_rows` use mini-batch k-means (with the default sample they never do:
Lloyd's algorithm on 50,000 rows is already ~1 s a cell, and mini-batch loses ~0.5 % inertia).
The finalists and the report's refits keep to the same bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Rows per chunk wherever every customer is transformed or predicted: memory grows with the
# chunk, not the portfolio, and 250,000 rows keep numpy's per-call overhead negligible.
CHUNK_ROWS = 250_000
# Fixed seed of the grid's sample: every cell sees the same customers, whatever its own seed.
SCALE_SAMPLE_SEED = 0


class ScaleSpec(BaseModel):
    """Sizes at which the grid stops looking at every customer (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_above_rows: int = Field(25_000, ge=1_000)
    fit_sample_rows: int = Field(8_000, ge=1_000)
    bounded_fit_rows: int = Field(10_000, ge=500)
    stability_rows: int = Field(10_000, ge=500)
    minibatch_above_rows: int = Field(200_000, ge=1_000)
    predict_chunk_rows: int = Field(CHUNK_ROWS, ge=1_000)

    @model_validator(mode="after")
    def _sample_below_threshold(self) -> ScaleSpec:
        if self.fit_sample_rows > self.sample_above_rows:
            raise ValueError(
                f"fit_sample_rows ({self.fit_sample_rows}) must not exceed sample_above_rows "
                f"({self.sample_above_rows}): the sample would exceed the data it stands for"
            )
        return self


@dataclass(frozen=True)
class AnalysisSample:
    """The customers the grid works on: all of them (`positions` None) or a seeded sample."""

    rows_total: int
    positions: np.ndarray | None
    seed: int = SCALE_SAMPLE_SEED

    @property
    def sampled(self) -> bool:
        return self.positions is not None

    @property
    def rows(self) -> int:
        return self.rows_total if self.positions is None else len(self.positions)

    def frame(self, clean: pd.DataFrame) -> pd.DataFrame:
        if self.positions is None:
            return clean
        return clean.iloc[self.positions].reset_index(drop=True)

    def params(self) -> dict[str, int | str]:
        """What to log on the parent run, so the sample can be drawn again."""
        return {
            "scale.sampled": str(self.sampled),
            "scale.rows_total": self.rows_total,
            "scale.sample_rows": self.rows,
            "scale.sample_seed": self.seed,
        }


def seeded_positions(n: int, rows: int, seed: int) -> np.ndarray | None:
    """Sorted positions of a sample of `rows` out of `n` without replacement (None: all of them)."""
    if n <= rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, rows, replace=False))


def analysis_sample(rows_total: int, spec: ScaleSpec) -> AnalysisSample:
    """All customers up to `spec.sample_above_rows`, else a seeded sample of `fit_sample_rows`."""
    if rows_total <= spec.sample_above_rows:
        return AnalysisSample(rows_total, None)
    return AnalysisSample(
        rows_total, seeded_positions(rows_total, spec.fit_sample_rows, SCALE_SAMPLE_SEED)
    )


def predict_in_chunks(model: object, frame: pd.DataFrame, chunk_rows: int) -> np.ndarray:
    """`model.predict(frame)` as int64, `chunk_rows` at a time (bounded intermediate memory)."""
    n = len(frame)
    labels = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        labels[start:stop] = np.asarray(model.predict(frame.iloc[start:stop]), dtype=np.int64)  # type: ignore[attr-defined]
    return labels


def transform_in_chunks(transformer: object, frame: pd.DataFrame, chunk_rows: int) -> np.ndarray:
    """`transformer.transform(frame)` as float64, `chunk_rows` at a time (bounded intermediates:
    a feature pipeline on 10M rows at once held several copies of the portfolio)."""
    parts = [
        np.asarray(transformer.transform(frame.iloc[start : start + chunk_rows]), dtype=float)  # type: ignore[attr-defined]
        for start in range(0, len(frame), chunk_rows)
    ]
    if not parts:
        return np.asarray(transformer.transform(frame), dtype=float)  # type: ignore[attr-defined]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
