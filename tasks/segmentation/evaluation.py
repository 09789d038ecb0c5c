"""Score an already-fitted segment model on data, with the grid's own metric names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.model.segment_model import SegmentModel
from tasks.segmentation.metrics import segment_shares, separation_metrics
from tasks.segmentation.reference import reference_silhouette, reference_space


def evaluate_model(
    model: SegmentModel, clean: pd.DataFrame, silhouette_sample_size: int, seed: int = 0
) -> dict[str, float]:
    """Separation and segment shares of a fitted model on `clean`, in its own model space.

    The grid's own metric functions, so a champion and a candidate are measured alike, in
    their own spaces and in the common reference space. Stability is not among them: it needs
    refits, which a fitted model cannot give.
    """
    space = model.embed(clean)
    labels = model.predict(clean)["segment"].to_numpy(dtype=np.int64)
    metrics = segment_shares(labels) | separation_metrics(
        space, labels, sample_size=silhouette_sample_size, seed=seed
    )
    metrics["reference_silhouette"] = reference_silhouette(
        reference_space(clean), labels, silhouette_sample_size
    )
    return metrics
