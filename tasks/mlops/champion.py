"""Load a registered segmentation model together with the segment names published with it."""

from __future__ import annotations

import json

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from prefect import task
from prefect.cache_policies import NO_CACHE
from sklearn.pipeline import Pipeline

from core.errors import ParameterError
from schemas.columns import CUST_ID
from tasks.retries import retry_unless_user_error
from tasks.segmentation.assignments import assign_segments

SEGMENT_NAMES_ARTIFACT = "segments/segment_names.json"


def load_model_with_names(model_uri: str) -> tuple[Pipeline, dict[int, str]]:
    """The pipeline and its segment names (stored beside the model in the run that trained it)."""
    try:
        pipeline = mlflow.sklearn.load_model(model_uri)
        run_id = mlflow.models.get_model_info(model_uri).run_id
        names_text = mlflow.artifacts.load_text(f"runs:/{run_id}/{SEGMENT_NAMES_ARTIFACT}")
    except MlflowException as exc:
        raise ParameterError(
            f"cannot load {model_uri}: {exc.message.splitlines()[0]} "
            "(run `ccseg run` first, or check MLFLOW_TRACKING_URI)"
        ) from None
    return pipeline, {int(k): v for k, v in json.loads(names_text).items()}


def has_alias(model_name: str, alias: str) -> bool:
    try:
        MlflowClient().get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return False
    return True


@task(
    name="previous-champion-assignments",
    cache_policy=NO_CACHE,
    retries=2,
    retry_condition_fn=retry_unless_user_error,
)
def previous_assignments(model_name: str, clean: pd.DataFrame) -> pd.Series | None:
    """The current champion's segment name for each customer, or None when there is none yet.

    Read before promotion, so the report can say how many customers changed segment.
    """
    if not has_alias(model_name, "champion"):
        return None
    pipeline, names = load_model_with_names(f"models:/{model_name}@champion")
    table = assign_segments(pipeline, clean, names)
    return table.set_index(CUST_ID)["segment_name"]
