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
    # Engineer the features once; the model's predict and its distances/probabilities share them.
    space = pipeline[:-1].transform(clean)
    model = pipeline[-1]
    labels = np.asarray(model.predict(space))
    table = pd.DataFrame({CUST_ID: clean[CUST_ID].to_numpy(), "segment": labels.astype(int)})
    if names is not None:
        table["segment_name"] = [names.get(int(label), f"Segment {label}") for label in labels]
    if hasattr(model, "predict_proba"):
        table["probability"] = model.predict_proba(space).max(axis=1)
    elif hasattr(model, "transform"):
        table["distance"] = model.transform(space).min(axis=1)
    return table


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """Write CSV and Parquet beside it, each atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parquet = path.with_suffix(".parquet")
    for target, write in ((path, table.to_csv), (parquet, table.to_parquet)):
        staged = target.with_name(f".{target.name}.tmp")
        write(staged, index=False)
        staged.replace(target)
    return path
