"""MLflow tracking: the experiment, the flow's parent run, and one child run per grid cell.

The tracking URI is set in exactly one place (`point_mlflow_at`). Child runs are started with an
explicit `parent_run_id` because MLflow's `nested=True` does not cross the task runner's threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature, infer_signature

from tasks.segmentation.algorithms import SKOPS_TRUSTED_TYPES

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_PACKAGES = ("core", "schemas", "tasks", "flows")
# The tags that let a reader find a run from Prefect, the data, or the code.
TAG_FLOW_RUN = "prefect.flow_run_id"
TAG_DATA_SHA = "data.sha256"
TAG_CODE_VERSION = "code.version"
TAG_GRID_CELL = "grid_cell"
TAG_SYNTHETIC = "data.synthetic"
MODEL_NAME_IN_RUN = "model"

# MLflow announces at INFO, twice per logged model, that it found uv.lock (it copies it into the
# model for reproducibility): 120+ identical lines per flow run in the Prefect log.
logging.getLogger("mlflow.utils.uv_utils").setLevel(logging.WARNING)


@dataclass(frozen=True)
class TrackingContext:
    """What a worker thread needs to log a child run (plain values: safe to pass to any thread)."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str


def code_version() -> str:
    """The git commit (`+dirty` when pipeline code changed), else a hash of the pipeline source."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *PIPELINE_PACKAGES],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return f"{commit}+dirty" if dirty else commit
    except (OSError, subprocess.CalledProcessError):
        return f"src-{source_hash()[:12]}"


def source_hash(packages: tuple[str, ...] = PIPELINE_PACKAGES) -> str:
    """A hash of the pipeline's Python source, for cache keys that must change with the code."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def point_mlflow_at(tracking_uri: str) -> None:
    """Set MLflow's tracking URI for this process without exporting it to the environment.

    `mlflow.set_tracking_uri` also writes MLFLOW_TRACKING_URI, which `PipelineSettings` reads: the
    next flow run in the same process (a worker, a test session) would then log to this run's
    store instead of the one its own settings name.
    """
    exported_before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri)
    if exported_before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = exported_before


def configure_tracking(tracking_uri: str, experiment_name: str, artifact_location: str) -> str:
    """Point MLflow at the store and make sure the experiment exists before any fan-out."""
    point_mlflow_at(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return client.create_experiment(experiment_name, artifact_location=artifact_location)
    return experiment.experiment_id


def clean_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """MLflow metrics must be finite floats; undefined ones (NaN) are left out, not faked."""
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def model_signature(sample: pd.DataFrame, labels: np.ndarray) -> ModelSignature:
    """Signature of a segmentation pipeline: validated raw rows in, integer segment out.

    Counts are declared as doubles: a batch with a missing count arrives as floats, and MLflow
    accepts integers where doubles are declared but not the reverse.
    """
    counts = sample.select_dtypes("integer").columns
    return infer_signature(sample.astype(dict.fromkeys(counts, "float64")), labels)


def log_cell_run(
    context: TrackingContext,
    cell_id: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    pipeline: object,
    signature: ModelSignature,
    pip_requirements: list[str],
) -> tuple[str, str]:
    """One child run for one grid cell: params, metrics, tag and the fitted Pipeline.

    Returns (run_id, model_uri). The model is logged with explicit pip requirements, since
    inferring them costs several seconds per model.
    """
    import mlflow.sklearn

    point_mlflow_at(context.tracking_uri)
    with mlflow.start_run(
        experiment_id=context.experiment_id,
        run_name=cell_id,
        parent_run_id=context.parent_run_id,
        tags={TAG_GRID_CELL: cell_id},
    ) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(clean_metrics(metrics))
        info = mlflow.sklearn.log_model(
            pipeline,
            name=MODEL_NAME_IN_RUN,
            signature=signature,
            pip_requirements=pip_requirements,
            code_paths=MODEL_CODE_PATHS,
            # Our own classes only (test_clustering saves and loads every algorithm with them).
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
        )
        return run.info.run_id, info.model_uri


def pinned_requirements(
    packages: tuple[str, ...] = ("scikit-learn", "pandas", "numpy", "skops"),
) -> list[str]:
    """Exact versions of what unpickling the pipeline needs, read from this environment."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in packages]


# The pickled pipeline refers to our transformer classes; shipping their packages with the model
# lets `mlflow models serve` or any other environment load it without installing this project.
MODEL_CODE_PATHS = [str(REPO_ROOT / "tasks"), str(REPO_ROOT / "schemas"), str(REPO_ROOT / "core")]
