"""The grid on a 2-worker Dask LocalCluster (loopback): the thread runner's result, every child run
in the MLflow store; then the champion scores a partitioned Parquet folder on the same cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from core.settings import PipelineSettings
from tasks.data.synthetic import generate_synthetic
from tasks.mlops.batch_scoring import score_parquet_with_dask
from tasks.segmentation.grid import expand_grid, parse_grid_spec

# A cold LocalCluster imports Prefect, MLflow and scikit-learn in each worker: minutes under load.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_api"),
    pytest.mark.timeout(1_500),
]
REPO_ROOT = Path(__file__).resolve().parents[2]

GRID = parse_grid_spec(
    {
        "feature_sets": ["log_scaled"],
        "algorithms": [{"name": "kmeans", "ks": [3, 4]}],
        "finalists": {"count": 2, "seeds": 1, "resamples": 50, "n_init": 2},
        "silhouette_sample_size": 500,
    }
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    from distributed import LocalCluster

    # Spawned workers inherit this process's sys.path, where pytest put test folders first
    # (tests/tasks would shadow the project's `tasks`): the project's root goes first, as it
    # does for a `dask worker` started in the checkout (docs/operations.md).
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(REPO_ROOT))
        # Ports chosen by the OS (scheduler_port=0 is the default), loopback only, no dashboard.
        local = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    try:
        yield local
    finally:
        local.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dask-data") / "customers.parquet"
    generate_synthetic(2_000, seed=9)[0].to_parquet(path, index=False)
    return path


def run(work_dir: Path, data: Path, task_runner: object | None):
    from flows.segmentation import segmentation

    flow = (
        segmentation if task_runner is None else segmentation.with_options(task_runner=task_runner)
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CCSEG_WORK_DIR", str(work_dir))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        return flow(data_path=data, grid=GRID), PipelineSettings()


@pytest.fixture(scope="module")
def both_runs(cluster, data, tmp_path_factory: pytest.TempPathFactory):
    from prefect_dask import DaskTaskRunner

    threads = run(tmp_path_factory.mktemp("threads"), data, None)
    on_dask = run(
        tmp_path_factory.mktemp("dask"), data, DaskTaskRunner(address=cluster.scheduler_address)
    )
    return threads, on_dask


def test_the_grid_on_dask_chooses_and_assigns_as_the_thread_runner(both_runs) -> None:
    (threads, _), (on_dask, _) = both_runs

    assert on_dask.chosen_cell_id == threads.chosen_cell_id
    by_threads = pd.read_csv(threads.segments_path)[["CUST_ID", "segment"]]
    by_dask = pd.read_csv(on_dask.segments_path)[["CUST_ID", "segment"]]
    pd.testing.assert_frame_equal(by_dask, by_threads)


def test_every_cell_fitted_on_dask_is_a_child_run_in_the_store(both_runs) -> None:
    _, (summary, settings) = both_runs

    children = mlflow.MlflowClient(settings.tracking_uri).search_runs(
        [
            mlflow.MlflowClient(settings.tracking_uri)
            .get_run(summary.parent_run_id)
            .info.experiment_id
        ],
        filter_string=f"tags.mlflow.parentRunId = '{summary.parent_run_id}'",
    )
    assert sorted(r.data.tags["grid_cell"] for r in children) == sorted(
        c.cell_id for c in expand_grid(GRID)
    )
    assert {r.info.status for r in children} == {"FINISHED"}


def test_the_champion_scores_parquet_partitions_on_the_cluster(both_runs, cluster, data, tmp_path):
    from distributed import Client

    _, (summary, settings) = both_runs
    rows = pd.read_parquet(data)
    batch = tmp_path / "batch"
    batch.mkdir()
    for number, start in enumerate(range(0, len(rows), 700)):
        rows.iloc[start : start + 700].to_parquet(batch / f"part-{number}.parquet", index=False)
    model_uri = f"models:/{summary.promotion.model_name}@champion"

    with Client(cluster.scheduler_address) as client:
        written = score_parquet_with_dask(
            batch, tmp_path / "scored", settings.tracking_uri, model_uri, client=client
        )

    scored = pd.read_parquet(tmp_path / "scored").astype({"CUST_ID": object})
    trained = pd.read_csv(summary.segments_path)[["CUST_ID", "segment"]]
    assert written == len(rows)
    merged = scored.merge(trained, on="CUST_ID", suffixes=("", "_trained"))
    assert len(merged) == len(rows) and (merged["segment"] == merged["segment_trained"]).all()
