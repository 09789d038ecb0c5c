"""Customer -> segment tables, made the same way for the training run and for scoring a batch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from schemas.columns import CUST_ID


def assign_segments(
    pipeline: Pipeline, clean: pd.DataFrame, names: Mapping[int, str] | None = None
) -> pd.DataFrame:
    """Segment per customer, plus the distance to its centre or its probability where defined."""
    labels = np.asarray(pipeline.predict(clean))
    table = pd.DataFrame({CUST_ID: clean[CUST_ID].to_numpy(), "segment": labels.astype(int)})
    if names is not None:
        table["segment_name"] = [names.get(int(label), f"Segment {label}") for label in labels]
    model = pipeline[-1]
    if hasattr(model, "predict_proba"):
        table["probability"] = pipeline.predict_proba(clean).max(axis=1)
    elif hasattr(model, "transform"):
        table["distance"] = pipeline.transform(clean).min(axis=1)
    return table


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """Write CSV (and Parquet beside it) atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    table.to_csv(staged, index=False)
    staged.replace(path)
    table.to_parquet(path.with_suffix(".parquet"), index=False)
    return path
