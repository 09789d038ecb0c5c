"""Score an already-fitted segmentation model on data, with the grid's own metric names."""

from __future__ import annotations

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.metrics import silhouette_score


def evaluate_pipeline(
    pipeline, clean: pd.DataFrame, silhouette_sample_size: int, seed: int = 0
) -> dict[str, float]:
    """Separation and segment shares of a fitted pipeline on `clean`, in its own model space."""
    labels = np.asarray(pipeline.predict(clean))
    space = pipeline[:-1].transform(clean)
    assigned = labels >= 0
    segments, counts = np.unique(labels[assigned], return_counts=True)
    metrics = {
        "n_segments": float(len(segments)),
        "noise_share": float(1 - assigned.mean()),
        "min_segment_share": float(counts.min() / len(labels)) if len(counts) else 0.0,
        "max_segment_share": float(counts.max() / len(labels)) if len(counts) else 0.0,
        "silhouette": -1.0,
    }
    if len(segments) >= 2:
        sample = min(silhouette_sample_size, int(assigned.sum()))
        metrics["silhouette"] = float(
            silhouette_score(
                np.asarray(space)[assigned], labels[assigned], sample_size=sample, random_state=seed
            )
        )
    return metrics


def evaluate_registered(
    model_uri: str, clean: pd.DataFrame, silhouette_sample_size: int, seed: int = 0
) -> dict[str, float]:
    """A registered model's metrics on `clean`; stability comes from its training run.

    Stability needs refits, which a registered model cannot give on new data, so the value
    measured when it was trained stands.
    """
    client = MlflowClient()
    name, alias = model_uri.removeprefix("models:/").split("@", 1)
    version = client.get_model_version_by_alias(name, alias)
    pipeline = mlflow.sklearn.load_model(model_uri)
    metrics = evaluate_pipeline(pipeline, clean, silhouette_sample_size, seed)
    metrics["stability_ari"] = client.get_run(version.run_id).data.metrics.get("stability_ari", 0.0)
    return metrics
