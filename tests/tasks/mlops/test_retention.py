"""Retention: old runs lose their artifacts, keep params and metrics; registered models stay."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from core.errors import ParameterError
from tasks.data.synthetic import generate_synthetic
from tasks.mlops.model_logging import log_segment_model
from tasks.mlops.retention import (
    DELETED_TAG,
    Retention,
    collect_garbage,
    parent_runs,
    run_family_bytes,
)


@pytest.fixture
def three_runs(store, packaged, tmp_path: Path) -> dict[str, object]:
    """Three flow runs, oldest first, each with a report file and one cell run that logged a
    model; the oldest run's model is a registered version (the champion)."""
    report = tmp_path / "report.html"
    report.write_text("<html>report</html>" * 50)
    parents, models = [], []
    for number in range(3):
        parent = store.client.create_run(store.experiment_id, run_name=f"flow-{number}")
        store.client.log_artifact(parent.info.run_id, str(report), "report")
        store.client.log_metric(parent.info.run_id, "rows_in", 100.0 + number)
        child = store.client.create_run(
            store.experiment_id, tags={"mlflow.parentRunId": parent.info.run_id}
        )
        store.client.log_param(child.info.run_id, "k", "3")
        models.append(log_segment_model.fn(packaged, store.tracking_uri, child.info.run_id))
        for run in (child, parent):
            store.client.set_terminated(run.info.run_id)
        parents.append(parent.info.run_id)
    version = mlflow.register_model(models[0], store.model_name).version
    store.client.set_registered_model_alias(store.model_name, "champion", version)
    sizes = {
        run.info.run_id: run_family_bytes(store.client, store.experiment_id, run)
        for run in parent_runs(store.client, store.experiment_id)
    }
    return {"parents": parents, "models": models, "sizes": sizes}


def model_bytes(store, model_uri: str) -> int:
    model = store.client.get_logged_model(model_uri.removeprefix("models:/"))
    folder = Path(mlflow.artifacts.download_artifacts(model.artifact_location))
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_parent_runs_are_listed_newest_first_without_their_cell_runs(store, three_runs) -> None:
    listed = [run.info.run_id for run in parent_runs(store.client, store.experiment_id)]

    assert listed == three_runs["parents"][::-1]


def test_keep_one_frees_the_older_runs_but_not_the_registered_model(store, three_runs) -> None:
    oldest, middle, newest = three_runs["parents"]
    registered_model = model_bytes(store, three_runs["models"][0])

    retention = collect_garbage(store.tracking_uri, store.experiment_name, keep=1)

    sizes = three_runs["sizes"]
    assert retention == Retention(
        parent_runs_kept=1,
        parent_runs_cleaned=2,
        child_runs_cleaned=2,
        models_deleted=1,
        models_kept_registered=1,
        bytes_freed=sizes[oldest] + sizes[middle] - registered_model,
        dry_run=False,
    )
    for run_id in (oldest, middle):
        run = store.client.get_run(run_id)
        assert store.client.list_artifacts(run_id) == []
        assert DELETED_TAG in run.data.tags
        assert "rows_in" in run.data.metrics  # the numbers stay comparable in the UI
    assert [a.path for a in store.client.list_artifacts(newest)] == ["report"]
    champion = mlflow.pyfunc.load_model(f"models:/{store.model_name}@champion")
    assert len(champion.predict(generate_synthetic(2, 0)[0])) == 2
    remaining = {m.model_id for m in store.client.search_logged_models([store.experiment_id])}
    middle_model = three_runs["models"][1].removeprefix("models:/")
    assert middle_model not in remaining


def test_a_dry_run_reports_the_same_and_deletes_nothing(store, three_runs) -> None:
    dry = collect_garbage(store.tracking_uri, store.experiment_name, keep=1, dry_run=True)

    assert dry.dry_run and dry.parent_runs_cleaned == 2 and dry.bytes_freed > 0
    assert "would free" in dry.summary()
    for run_id in three_runs["parents"]:
        assert [a.path for a in store.client.list_artifacts(run_id)] == ["report"]
    real = collect_garbage(store.tracking_uri, store.experiment_name, keep=1)
    assert (real.bytes_freed, real.models_deleted) == (dry.bytes_freed, dry.models_deleted)


def test_collecting_twice_frees_nothing_the_second_time(store, three_runs) -> None:
    collect_garbage(store.tracking_uri, store.experiment_name, keep=2)

    again = collect_garbage(store.tracking_uri, store.experiment_name, keep=2)

    assert (again.parent_runs_cleaned, again.bytes_freed) == (0, 0)


def test_keeping_more_runs_than_exist_deletes_nothing(store, three_runs) -> None:
    retention = collect_garbage(store.tracking_uri, store.experiment_name, keep=10)

    assert (retention.parent_runs_kept, retention.parent_runs_cleaned) == (3, 0)


@pytest.mark.parametrize("keep", [0, -2, True, "3", 1.5])
def test_keep_must_be_a_whole_number_of_at_least_one(store, keep: object) -> None:
    with pytest.raises(ParameterError) as caught:
        collect_garbage(store.tracking_uri, store.experiment_name, keep=keep)  # type: ignore[arg-type]

    assert str(caught.value) == (f"--keep must be a whole number of runs, at least 1; got {keep!r}")


def test_a_store_that_does_not_exist_is_named_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "mlflow.db"

    with pytest.raises(ParameterError, match=f"^no MLflow store at {missing} "):
        collect_garbage(f"sqlite:///{missing}", "cc-segmentation", keep=1)

    assert not missing.exists()


def test_an_experiment_that_does_not_exist_has_nothing_to_clean(store) -> None:
    retention = collect_garbage(store.tracking_uri, "never-ran", keep=1)

    assert retention == Retention(0, 0, 0, 0, 0, 0, False)
