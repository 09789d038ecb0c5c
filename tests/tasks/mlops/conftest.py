"""MLflow fixtures: one real sqlite store, an experiment per test, a small model, versions."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tasks.data.synthetic import generate_synthetic
from tasks.mlops.model_logging import log_segment_model
from tasks.mlops.registry import version_tags
from tasks.mlops.tracking import configure_tracking
from tasks.model.segment_model import SegmentModel
from tasks.segmentation.fit import CellResult, fit_cell
from tasks.segmentation.grid import GridCell
from tasks.segmentation.packaging import package_model

CELL = GridCell("log_scaled", "kmeans", 3, 0, (("max_iter", 300), ("n_init", 4)))
NAMES = {0: "First", 1: "Second", 2: "Third"}


_NUMBERS = itertools.count()


@dataclass(frozen=True)
class Store:
    """A real MLflow sqlite store with an experiment of this test's own, and a client on it.

    One database serves the session (creating one costs seconds); each test gets its own
    experiment and registered-model name, so tests never see each other's runs or versions.
    """

    tracking_uri: str
    experiment_id: str
    experiment_name: str
    model_name: str
    client: MlflowClient
    root: Path


@pytest.fixture(scope="session")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlflow-store")


def new_store(store_root: Path) -> Store:
    uri = f"sqlite:///{store_root / 'mlflow.db'}"
    number = next(_NUMBERS)
    name = f"experiment-{number}"
    experiment_id = configure_tracking(uri, name, (store_root / name).as_uri())
    return Store(uri, experiment_id, name, f"model-{number}", MlflowClient(uri), store_root)


@pytest.fixture
def store(store_root: Path) -> Store:
    return new_store(store_root)


@pytest.fixture(scope="session")
def training() -> tuple[CellResult, pd.DataFrame]:
    """A fitted k-means cell and the rows it was fitted on, as `pandas.read_csv` gives them."""
    clean, _ = generate_synthetic(400, 8)
    clean = pd.read_csv(io.StringIO(clean.to_csv(index=False)))
    return fit_cell(CELL, clean, stability_resamples=10, silhouette_sample_size=400), clean


@pytest.fixture(scope="session")
def packaged(training) -> SegmentModel:
    result, clean = training
    segments = {str(k): {"name": v} for k, v in NAMES.items()}
    return package_model(result, clean, NAMES, segments)


def new_cell_run(store: Store, metrics: dict[str, float] | None = None) -> str:
    """A finished parent run with one finished child run (a grid cell); returns the child's id."""
    client = store.client
    parent = client.create_run(store.experiment_id)
    child = client.create_run(store.experiment_id, tags={"mlflow.parentRunId": parent.info.run_id})
    for name, value in (metrics or {}).items():
        client.log_metric(child.info.run_id, name, value)
    client.set_terminated(child.info.run_id)
    client.set_terminated(parent.info.run_id)
    return child.info.run_id


@pytest.fixture
def register(store: Store, packaged: SegmentModel, training) -> Callable[..., str]:
    """Log the packaged model in a new cell run and register it; returns the version number."""
    result, _ = training

    def make(
        alias: str | None = "champion",
        tags: dict[str, str] | None = None,
        data_sha256: str = "data-1",
    ) -> str:
        run_id = new_cell_run(store, {"stability_ari": result.metrics["stability_ari"]})
        model_uri = log_segment_model.fn(packaged, store.tracking_uri, run_id)
        version_tag = version_tags(CELL.cell_id, data_sha256, "code-1", result.metrics)
        version = mlflow.register_model(model_uri, store.model_name, tags=tags or version_tag)
        if alias is not None:
            store.client.set_registered_model_alias(store.model_name, alias, version.version)
        return version.version

    return make
