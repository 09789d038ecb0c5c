"""Use a registered segment model the way every user does: `mlflow.pyfunc`, nothing of ours.

Scoring a batch, the champion's assignments before promotion, its metrics on new data and the
check that a new version loads all go through `mlflow.pyfunc.load_model`: one path.
"""

from __future__ import annotations

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from prefect import task
from prefect.cache_policies import NO_CACHE

from core.errors import ParameterError
from schemas.columns import CUST_ID
from tasks.mlops.batch_scoring import score_in_chunks
from tasks.mlops.model_logging import MODEL_FORMAT, MODEL_FORMAT_TAG
from tasks.mlops.tracking import point_mlflow_at
from tasks.model.segment_model import SegmentModel
from tasks.retries import retry_unless_user_error
from tasks.segmentation.evaluation import evaluate_model

CHAMPION = "champion"


class ModelCheckError(RuntimeError):
    """A just-registered version does not load or does not reproduce the flow's assignments."""


def load_segment_model(model_uri: str) -> mlflow.pyfunc.PyFuncModel:
    """The model behind `model_uri`, loaded as any MLflow user would load it."""
    try:
        return mlflow.pyfunc.load_model(model_uri)
    except MlflowException as exc:
        raise ParameterError(
            f"cannot load {model_uri}: {exc.message.splitlines()[0]} "
            "(run `ccseg run` first, or check MLFLOW_TRACKING_URI)"
        ) from None


@task(
    name="load-model",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_unless_user_error,
)
def load_model(tracking_uri: str, model_uri: str) -> mlflow.pyfunc.PyFuncModel:
    """`load_segment_model`, retried: loading reads the model store."""
    point_mlflow_at(tracking_uri)
    return load_segment_model(model_uri)


def current_champion(model_name: str):
    """The version the `champion` alias points at, or None."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def loads_in_this_format(version) -> bool:
    """Versions registered before the self-contained format ship project code that no longer
    exists (`tasks/features.py`): they are recognised by the missing format tag, not loaded."""
    return version.tags.get(MODEL_FORMAT_TAG) == MODEL_FORMAT


def loadable_champion(model_name: str, skipped: str) -> SegmentModel | None:
    """The current champion's raw model, or None when there is none, it is in an older format,
    or its files cannot be loaded: promotion replaces such a champion, so callers go on
    (`skipped` completes "previous champion vN not ...: reason" for the user)."""
    champion = current_champion(model_name)
    if champion is None or not loads_in_this_format(champion):
        return None
    try:
        model = load_segment_model(f"models:/{model_name}@{CHAMPION}")
    except ParameterError as exc:
        print(f"previous champion v{champion.version} not {skipped}: {exc}")
        return None
    return model.get_raw_model()


@task(
    name="previous-champion-assignments",
    cache_policy=NO_CACHE,
    retries=2,
    retry_condition_fn=retry_unless_user_error,
)
def previous_assignments(model_name: str, clean: pd.DataFrame) -> pd.Series | None:
    """The current champion's segment name for each customer, or None when there is none.

    Read before promotion, so the report can say how many customers changed segment.
    """
    raw = loadable_champion(model_name, "compared")
    if raw is None:
        return None
    # The raw model, in chunks: the pyfunc wrapper's per-element input check costs ~16 us a
    # row (minutes at millions of customers) and the clean frame is already typed.
    return score_in_chunks(raw, clean).set_index(CUST_ID)["segment_name"]


def evaluate_registered(
    model_uri: str, clean: pd.DataFrame, silhouette_sample_size: int, seed: int = 0
) -> dict[str, float]:
    """A registered model's metrics on `clean`; stability is the one it was promoted on.

    Stability needs refits, which a registered model cannot give on new data: the value on the
    version (its finalist's re-measured stability) stands, else its training run's.
    """
    client = MlflowClient()
    version = client.get_model_version_by_alias(*model_uri.removeprefix("models:/").split("@"))
    model = load_segment_model(model_uri).get_raw_model()
    metrics = evaluate_model(model, clean, silhouette_sample_size, seed)
    promoted_on = version.tags.get("metric.stability_ari")
    metrics["stability_ari"] = (
        float(promoted_on)
        if promoted_on is not None
        else client.get_run(version.run_id).data.metrics.get("stability_ari", 0.0)
    )
    return metrics


@task(name="verify-registered-model", cache_policy=NO_CACHE)
def verify_registered_model(
    tracking_uri: str, model_uri: str, rows: pd.DataFrame, expected: pd.DataFrame
) -> None:
    """Load `model_uri` through the registry and check it answers `rows` as `expected` does.

    The last step before the new version counts as promoted: a version that fails here is
    rolled back with the alias, so users never get a champion that cannot score.
    """
    point_mlflow_at(tracking_uri)
    try:
        answered = mlflow.pyfunc.load_model(model_uri).predict(rows)
    except Exception as exc:  # any failure to load or score means the version is unusable
        raise ModelCheckError(f"{model_uri} does not load and score: {exc}") from exc
    columns = [CUST_ID, "segment", "segment_name"]
    if not answered[columns].reset_index(drop=True).equals(
        expected[columns].reset_index(drop=True)
    ) or not np.allclose(answered["distance"], expected["distance"], equal_nan=True):
        raise ModelCheckError(f"{model_uri} does not reproduce the flow's own assignments")
