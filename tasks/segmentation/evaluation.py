"""Score an already-fitted segmentation model on data, with the grid's own metric names."""

from __future__ import annotations

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from tasks.segmentation.metrics import segment_shares, separation_metrics
from tasks.segmentation.reference import reference_silhouette, reference_space


def evaluate_pipeline(
    pipeline, clean: pd.DataFrame, silhouette_sample_size: int, seed: int = 0
) -> dict[str, float]:
    """Separation and segment shares of a fitted pipeline on `clean`, in its own model space.

    The grid's own metric functions, so a champion and a candidate are measured alike, in
    their own spaces and in the common reference space.
    """
    space = np.asarray(pipeline[:-1].transform(clean))
    labels = np.asarray(pipeline[-1].predict(space))
    metrics = segment_shares(labels) | separation_metrics(
        space, labels, sample_size=silhouette_sample_size, seed=seed
    )
    metrics["reference_silhouette"] = reference_silhouette(
        reference_space(clean), labels, silhouette_sample_size
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
