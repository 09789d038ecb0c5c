"""Log the chosen segment model as a standard MLflow model that loads without this project.

What one logged model holds: the fitted `SegmentModel` in MLflow's default (skops) format,
trusting only the classes of `tasks/model/segment_model.py`; that one module, shipped under the
import path its classes were saved with (`code/tasks/model/segment_model.py`); a signature that
takes CC GENERAL rows as `pandas.read_csv` gives them; the segment card as JSON
(`extra_files/segment_card.json`); and requirements pinned to this environment for exactly what
loading needs. No lock file: MLflow would otherwise copy the whole project's uv.lock into it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version as installed_version
from pathlib import Path

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_LOG_UV_FILES
from mlflow.models import ModelSignature
from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
from mlflow.types.schema import AnyType, ColSpec, Schema
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.transactions import get_transaction

import tasks.model.segment_model as segment_model
from tasks.mlops.tracking import MODEL_NAME_IN_RUN, point_mlflow_at
from tasks.model.segment_model import (
    COUNT_COLUMNS,
    CUST_ID,
    NUMERIC_COLUMNS,
    OPTIONAL_COLUMNS,
    FeatureEngineer,
    HDBSCANClusterer,
    SegmentModel,
    WardClusterer,
)
from tasks.retries import retry_unless_user_error

# What loading the model needs, and nothing else (mlflow brings the server for `models serve`).
MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "pandas", "numpy", "skops")
SEGMENT_CARD_FILE = "segment_card.json"
SEGMENT_CARD_PATH = f"extra_files/{SEGMENT_CARD_FILE}"  # inside the model's directory
# Tag on every version in this format: older versions (pickled project code) do not load.
MODEL_FORMAT_TAG = "ccseg.model_format"
MODEL_FORMAT = "segment-model/1"
_MODEL_ID = "logged_model_id"


def trusted_types() -> list[str]:
    """The classes skops may rebuild beyond scikit-learn's own: exactly those of the model."""
    shipped = (SegmentModel, FeatureEngineer, WardClusterer, HDBSCANClusterer)
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in shipped]


def model_requirements() -> list[str]:
    """Each requirement pinned to the version installed here, the one the model was saved with."""
    return [f"{name}=={installed_version(name)}" for name in MODEL_REQUIREMENTS]


def model_signature() -> ModelSignature:
    """CC GENERAL rows in, one row per customer out.

    Counts are `long`: whole by contract, `pandas.read_csv` always reads them as int64 (MLflow
    refuses int64 for a double). Amounts, frequencies and shares are declared `Any`: pandas
    reads one as int64 or float64 depending on whether the batch happens to hold a decimal
    (the real file's credit limits are whole numbers; only its one empty limit makes that
    column float), and MLflow accepts no both-ways type. The model checks them itself and
    names the row and column it cannot score. CREDIT_LIMIT and MINIMUM_PAYMENTS are optional:
    a missing key, an absent column or NaN.
    """
    inputs = [ColSpec("string", CUST_ID)]
    for column in NUMERIC_COLUMNS:
        kind = "long" if column in COUNT_COLUMNS else AnyType()
        inputs.append(ColSpec(kind, column, required=column not in OPTIONAL_COLUMNS))
    outputs = [
        ColSpec("string", CUST_ID),
        ColSpec("long", "segment"),
        ColSpec("string", "segment_name"),
        ColSpec("double", "distance", required=False),
        ColSpec("double", "probability", required=False),
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


@contextmanager
def shipped_code() -> Iterator[Path]:
    """A temporary `tasks/` tree holding only the model module, to pass as a code path.

    The saved model refers to `tasks.model.segment_model.*`, so the module must import under
    that name where the model loads; the rest of `tasks/` (prefect, pandera, ...) stays home.
    """
    source = Path(segment_model.__file__)
    with tempfile.TemporaryDirectory(prefix="ccseg-model-code-") as folder:
        package = Path(folder) / "tasks"
        (package / "model").mkdir(parents=True)
        (package / "__init__.py").write_text('"""Only the model module ships with a model."""\n')
        shutil.copy2(source.with_name("__init__.py"), package / "model" / "__init__.py")
        shutil.copy2(source, package / "model" / source.name)
        yield package


@task(
    name="log-segment-model",
    cache_policy=NO_CACHE,
    retries=2,
    retry_condition_fn=retry_unless_user_error,
)
def log_segment_model(model: SegmentModel, tracking_uri: str, run_id: str) -> str:
    """Log `model` into the chosen cell's run (`run_id`); returns the model's URI."""
    point_mlflow_at(tracking_uri)
    # The switch MLflow documents for leaving uv.lock and pyproject.toml out of a model (pyfunc
    # models copy them when run from a uv project; set it rather than rely on a flavor's detail).
    os.environ[MLFLOW_LOG_UV_FILES.name] = "false"
    with tempfile.TemporaryDirectory(prefix="ccseg-card-") as folder, shipped_code() as code:
        card = Path(folder) / SEGMENT_CARD_FILE
        card.write_text(model.card_json, encoding="utf-8")
        # Created in the run's own experiment (MLflow would take the active one, or Default).
        run = MlflowClient().get_run(run_id)
        logged = mlflow.initialize_logged_model(
            name=MODEL_NAME_IN_RUN,
            source_run_id=run_id,
            params=run.data.params,
            experiment_id=run.info.experiment_id,
        )
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_NAME_IN_RUN,
            run_id=run_id,
            model_id=logged.model_id,
            signature=model_signature(),
            pip_requirements=model_requirements(),
            code_paths=[str(code)],
            extra_files=[str(card)],
            skops_trusted_types=trusted_types(),
        )
    transaction = get_transaction()
    if transaction is not None:
        transaction.set(_MODEL_ID, info.model_id)
    return info.model_uri


@log_segment_model.on_rollback
def _delete_logged_model(transaction) -> None:
    """A model whose version never became usable is marked deleted (`ccseg gc` frees its bytes)."""
    MlflowClient().delete_logged_model(transaction.get(_MODEL_ID))


def read_segment_card(model_uri: str) -> dict:
    """The card logged with a model (names, profile, reference statistics), without loading it."""
    # `models:/` URIs name a model, not a folder: resolve where it is stored, then read one file.
    folder = ModelsArtifactRepository.get_underlying_uri(model_uri)
    path = mlflow.artifacts.download_artifacts(artifact_uri=f"{folder}/{SEGMENT_CARD_PATH}")
    return json.loads(Path(path).read_text(encoding="utf-8"))
