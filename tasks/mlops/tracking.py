"""MLflow tracking: the experiment, the flow's parent run, and one child run per grid cell.

The tracking URI is set in exactly one place (`point_mlflow_at`). Child runs are started with an
explicit `parent_run_id` because MLflow's `nested=True` does not cross the task runner's threads.
A child run holds its cell's params and metrics only; the full model is logged for the chosen
cell alone, after selection (`tasks/mlops/model_logging.py`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow import MlflowClient

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_PACKAGES = ("core", "schemas", "tasks", "flows")
# The tags that let a reader find a run from Prefect, the data, or the code.
TAG_FLOW_RUN = "prefect.flow_run_id"
TAG_DATA_SHA = "data.sha256"
TAG_CODE_VERSION = "code.version"
TAG_GRID_CELL = "grid_cell"
TAG_SYNTHETIC = "data.synthetic"
TAG_CELL_STATUS = "ccseg.cell_status"
TAG_CELL_FAILURE = "ccseg.cell_failure"
MODEL_NAME_IN_RUN = "model"


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


def is_tracking_server(tracking_uri: str) -> bool:
    return tracking_uri.lower().startswith(("http://", "https://"))


def configure_tracking(
    tracking_uri: str, experiment_name: str, artifact_location: str | None
) -> str:
    """Point MLflow at the store and make sure the experiment exists before any fan-out.

    `artifact_location` (a local folder) is used only with a local store. Against an `mlflow
    server`, the server chooses (`mlflow-artifacts:/<id>`, proxied by `--artifacts-destination`):
    an explicit local path there would make every client write models to its own disk, where
    no other machine can read them. An experiment's location is fixed once it is created.
    """
    point_mlflow_at(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        location = None if is_tracking_server(tracking_uri) else artifact_location
        return client.create_experiment(experiment_name, artifact_location=location)
    return experiment.experiment_id


def clean_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """MLflow metrics must be finite floats; undefined ones (NaN) are left out, not faked."""
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


# Grid cells log from worker threads. An interrupted run marks its open child runs KILLED and
# then exits the process; closing this gate first waits for a cell that is mid-logging and holds
# later ones until the exit, so no child run is left RUNNING and no cell fails noisily meanwhile.
_cell_run_gate = threading.Lock()


def close_cell_runs() -> None:
    """Wait for any cell that is logging its child run, then hold all later ones (interrupts:
    the process exits next, so the gate is never opened again)."""
    _cell_run_gate.acquire()


def log_cell_run(
    context: TrackingContext,
    cell_id: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    failure: str | None = None,
) -> str:
    """One child run for one grid cell: its params, metrics and `grid_cell` tag; returns its id.

    A cell that could not be fitted is a FAILED run with its reason in `ccseg.cell_failure`.
    """
    point_mlflow_at(context.tracking_uri)
    tags = {TAG_GRID_CELL: cell_id, TAG_CELL_STATUS: "failed" if failure else "fitted"}
    if failure:
        tags[TAG_CELL_FAILURE] = failure
    with (
        _cell_run_gate,
        mlflow.start_run(
            experiment_id=context.experiment_id,
            run_name=cell_id,
            parent_run_id=context.parent_run_id,
            tags=tags,
        ) as run,
    ):
        if failure:
            mlflow.log_params({k: str(v) for k, v in params.items()})
            mlflow.end_run(status="FAILED")
            return run.info.run_id
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(clean_metrics(metrics))
        return run.info.run_id
