"""Retention: free the artifacts of old segmentation runs, keep their params, metrics and tags.

`ccseg gc --keep N` keeps the newest N parent runs whole. For every older parent run and its
child runs it deletes the run artifacts (report, validation, grid tables, segments) and the
models they logged, unless a registered model version uses that model: a registered version's
artifacts are never touched, so every alias and every version stays loadable. The runs stay in
the MLflow UI with their params and metrics, tagged `ccseg.artifacts_deleted`. A parent run's
`history/` folder (its customers' segment names, a few tens of kB, and the shares figure) is
kept too: `ccseg history` needs it to say who moved between champions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from core.errors import ParameterError
from tasks.mlops.run_record import HISTORY_DIR

DELETED_TAG = "ccseg.artifacts_deleted"
PARENT_TAG = "mlflow.parentRunId"


@dataclass(frozen=True)
class Retention:
    """What one garbage collection did (or, in a dry run, would do)."""

    parent_runs_kept: int
    parent_runs_cleaned: int
    child_runs_cleaned: int
    models_deleted: int
    models_kept_registered: int
    bytes_freed: int
    dry_run: bool

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"kept {self.parent_runs_kept} newest run(s) whole; {verb} {self.bytes_freed:,} bytes "
            f"of {self.parent_runs_cleaned} older run(s) and their {self.child_runs_cleaned} "
            f"grid cell run(s): {self.models_deleted} model(s) deleted, "
            f"{self.models_kept_registered} kept because a registered version uses them"
        )


def _pages(fetch) -> Iterator:
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def _tree_bytes(repo, path: str | None = None) -> int:
    total = 0
    for entry in repo.list_artifacts(path):
        total += _tree_bytes(repo, entry.path) if entry.is_dir else int(entry.file_size or 0)
    return total


def _require_store(tracking_uri: str) -> None:
    """A sqlite store that does not exist would be created empty by MLflow: say so instead."""
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ParameterError(
                f"no MLflow store at {path} (set CCSEG_WORK_DIR or MLFLOW_TRACKING_URI)"
            )


def parent_runs(client: MlflowClient, experiment_id: str) -> list[Run]:
    """The experiment's flow runs (not grid cells), newest first."""
    runs = _pages(
        lambda token: client.search_runs(
            [experiment_id], order_by=["attributes.start_time DESC"], page_token=token
        )
    )
    return [run for run in runs if PARENT_TAG not in run.data.tags]


def child_runs(client: MlflowClient, experiment_id: str, parent_run_id: str) -> list[Run]:
    query = f"tags.{PARENT_TAG} = '{parent_run_id}'"
    return list(_pages(lambda token: client.search_runs([experiment_id], query, page_token=token)))


def run_family_bytes(client: MlflowClient, experiment_id: str, parent: Run) -> int:
    """Artifact bytes of a flow run, its grid cell runs and every model they logged."""
    family = [parent, *child_runs(client, experiment_id, parent.info.run_id)]
    total = sum(_tree_bytes(get_artifact_repository(run.info.artifact_uri)) for run in family)
    for run in family:
        for model in _logged_models(client, experiment_id, run.info.run_id):
            total += _tree_bytes(get_artifact_repository(model.artifact_location))
    return total


def _logged_models(client: MlflowClient, experiment_id: str, run_id: str) -> list:
    query = f"source_run_id = '{run_id}'"
    return list(
        _pages(
            lambda token: client.search_logged_models(
                [experiment_id], filter_string=query, page_token=token
            )
        )
    )


def _registered_model_ids(client: MlflowClient) -> tuple[set[str], set[str]]:
    """Logged models used by any registered version, and runs a version points into directly.

    A version made from a logged model has the source `models:/<model id>`; one made the older
    way, from a run's folder, has `runs:/<run id>/<path>`.
    """
    versions = list(_pages(lambda token: client.search_model_versions(page_token=token)))
    sources = [str(v.source) for v in versions]
    model_ids = {s.removeprefix("models:/") for s in sources if s.startswith("models:/m-")}
    model_ids |= {v.model_id for v in versions if getattr(v, "model_id", None)}
    run_ids = {v.run_id for v, s in zip(versions, sources, strict=True) if s.startswith("runs:/")}
    return model_ids, run_ids


def collect_garbage(
    tracking_uri: str, experiment_name: str, keep: int, dry_run: bool = False
) -> Retention:
    """Delete the artifacts of all but the newest `keep` flow runs (see the module docstring)."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ParameterError(f"--keep must be a whole number of runs, at least 1; got {keep!r}")
    _require_store(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return Retention(0, 0, 0, 0, 0, 0, dry_run)
    parents = parent_runs(client, experiment.experiment_id)
    kept, old = parents[:keep], parents[keep:]
    registered_models, registered_runs = _registered_model_ids(client)
    counts = {"parents": 0, "children": 0, "deleted": 0, "protected": 0, "bytes": 0}
    for parent in old:
        if DELETED_TAG in parent.data.tags or parent.info.status == "RUNNING":
            continue  # already cleaned, or a flow still writing to it
        children = child_runs(client, experiment.experiment_id, parent.info.run_id)
        for run in (parent, *children):
            for model in _logged_models(client, experiment.experiment_id, run.info.run_id):
                if model.model_id in registered_models:
                    counts["protected"] += 1
                    continue
                repo = get_artifact_repository(model.artifact_location)
                counts["bytes"] += _tree_bytes(repo)
                counts["deleted"] += 1
                if not dry_run:
                    repo.delete_artifacts()
                    client.delete_logged_model(model.model_id)
            counts["bytes"] += _delete_run_artifacts(
                client, run, protect_model=run.info.run_id in registered_runs, dry_run=dry_run
            )
        counts["parents"] += 1
        counts["children"] += len(children)
    return Retention(
        len(kept),
        counts["parents"],
        counts["children"],
        counts["deleted"],
        counts["protected"],
        counts["bytes"],
        dry_run,
    )


def _delete_run_artifacts(
    client: MlflowClient, run: Run, protect_model: bool, dry_run: bool
) -> int:
    """Delete a run's own artifacts (not a model registered from `runs:/<id>/model`, nor the
    segment history)."""
    repo = get_artifact_repository(run.info.artifact_uri)
    freed = 0
    for entry in repo.list_artifacts():
        if (protect_model and entry.path == "model") or entry.path == HISTORY_DIR:
            continue
        freed += _tree_bytes(repo, entry.path) if entry.is_dir else int(entry.file_size or 0)
        if not dry_run:
            repo.delete_artifacts(entry.path)
    if not dry_run:
        client.set_tag(
            run.info.run_id, DELETED_TAG, datetime.now(UTC).isoformat(timespec="seconds")
        )
    return freed
