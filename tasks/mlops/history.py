"""Read the segmentation runs back from MLflow: one record per parent run, oldest first.

Everything a record holds comes from the run's tags, metrics and dataset input (what
`tasks/mlops/run_record.py` writes), so the history reads the same from a sqlite store and from
an `mlflow server`, and survives `ccseg gc`. Only who-moved needs a file: the run's
`history/assignments.csv.gz`, read on demand.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import mlflow.artifacts
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from schemas.columns import CUST_ID
from tasks.mlops.retention import parent_runs
from tasks.mlops.run_logging import CHOSEN_CELL_TAG
from tasks.mlops.run_record import (
    ASSIGNMENTS_PATH,
    DECISION,
    LEGACY_ASSIGNMENTS_PATH,
    PROMOTED,
    PROMOTION,
    SEGMENT_NAME,
    SHARES_TAG,
    data_digest,
)
from tasks.mlops.tracking import TAG_DATA_SHA


@dataclass(frozen=True)
class RunRecord:
    """One parent run as `ccseg history` shows it; None where the run recorded nothing."""

    run_id: str
    run_name: str
    started: str  # ISO 8601, UTC
    status: str  # MLflow's: FINISHED, FAILED, RUNNING, KILLED
    data_name: str | None = None
    digest: str | None = None
    rows_in: int | None = None
    rows_clean: int | None = None
    rows_quarantined: int | None = None
    cell: str | None = None
    algorithm: str | None = None
    feature_set: str | None = None
    k: int | None = None
    silhouette: float | None = None
    stability: float | None = None
    outcome: str | None = None  # promoted, challenger, unchanged; None: no decision recorded
    version: str | None = None  # registered by this run
    champion_version: str | None = None  # the champion after this run
    shares: dict[str, float] = field(default_factory=dict)

    @property
    def is_champion(self) -> bool:
        """This run's model became the champion."""
        return self.outcome == PROMOTED and self.version is not None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class History:
    """The experiment's parent runs, oldest first (an empty list when there are none)."""

    experiment_name: str
    tracking_uri: str
    records: list[RunRecord]

    def last(self, n: int) -> list[RunRecord]:
        return self.records[-n:]


def store_exists(tracking_uri: str) -> bool:
    """False for a sqlite store whose file is absent (MLflow would create it empty)."""
    parts = urlsplit(tracking_uri)
    if parts.scheme != "sqlite":
        return True
    return Path(tracking_uri.removeprefix("sqlite:///")).is_file()


def read_history(tracking_uri: str, experiment_name: str) -> History:
    """Every parent run of `experiment_name`, oldest first; nothing is created if absent."""
    if not store_exists(tracking_uri):
        return History(experiment_name, tracking_uri, [])
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return History(experiment_name, tracking_uri, [])
    runs = parent_runs(client, experiment.experiment_id)
    return History(experiment_name, tracking_uri, [run_record(r) for r in reversed(runs)])


def _int(value: object) -> int | None:
    try:
        return int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def run_record(run: Run) -> RunRecord:
    """The record of one parent run, from what it logged (older runs: what there is)."""
    tags, metrics = run.data.tags, run.data.metrics
    datasets = [d.dataset for d in (run.inputs.dataset_inputs if run.inputs else [])]
    dataset = datasets[0] if datasets else None
    sha256 = tags.get(TAG_DATA_SHA)
    try:
        shares = {str(k): float(v) for k, v in json.loads(tags.get(SHARES_TAG, "{}")).items()}
    except (ValueError, AttributeError):
        shares = {}
    chosen = CHOSEN_CELL_TAG in tags  # the chosen model's metrics are logged with this tag
    started = datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC)
    return RunRecord(
        run_id=run.info.run_id,
        run_name=run.info.run_name or "",
        started=started.isoformat(timespec="seconds"),
        status=run.info.status,
        data_name=dataset.name if dataset else None,
        digest=dataset.digest if dataset else (data_digest(sha256) if sha256 else None),
        rows_in=_int(metrics.get("rows_in")),
        rows_clean=_int(metrics.get("rows_clean")),
        rows_quarantined=_int(metrics.get("rows_quarantined")),
        cell=tags.get(f"{DECISION}.cell") or tags.get(CHOSEN_CELL_TAG),
        algorithm=tags.get(f"{DECISION}.algorithm"),
        feature_set=tags.get(f"{DECISION}.feature_set"),
        k=_int(tags.get(f"{DECISION}.k")),
        silhouette=_float(metrics.get("silhouette")) if chosen else None,
        stability=_float(metrics.get("stability_ari")) if chosen else None,
        outcome=tags.get(f"{PROMOTION}.outcome"),
        version=tags.get(f"{PROMOTION}.version") or None,
        champion_version=tags.get(f"{PROMOTION}.champion_version") or None,
        shares=shares,
    )


def load_assignments(tracking_uri: str, run_id: str) -> pd.Series | None:
    """A run's CUST_ID -> segment name, or None when the run has no such file."""
    for artifact_path in (ASSIGNMENTS_PATH, LEGACY_ASSIGNMENTS_PATH):
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=artifact_path, tracking_uri=tracking_uri
            )
        except (MlflowException, OSError):
            continue
        if artifact_path == ASSIGNMENTS_PATH:
            frame = pd.read_parquet(path).astype({CUST_ID: str, SEGMENT_NAME: str})
        else:
            frame = pd.read_csv(
                path, dtype={CUST_ID: str, SEGMENT_NAME: str}, keep_default_na=False
            )
        return frame.set_index(CUST_ID)[SEGMENT_NAME]
    return None
