"""Model registry: decide, register and alias a new version of `cc-segmentation`, undoably.

The `champion` alias moves only when the new model beats the current champion under the
selection rule, both judged on the same (current) data; otherwise the new version is the
`challenger`. A rerun that would register the very same model (same grid cell, data and code)
registers nothing. Registering and moving an alias are Prefect tasks with rollback hooks: run
inside one `prefect.transactions.transaction()`, a failure in any later step of the transaction
deletes the version and puts the alias back where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.transactions import get_transaction

from core.errors import ParameterError
from tasks.mlops.champion import CHAMPION, current_champion, loads_in_this_format
from tasks.mlops.model_logging import MODEL_FORMAT, MODEL_FORMAT_TAG
from tasks.mlops.tracking import (
    TAG_CODE_VERSION,
    TAG_DATA_SHA,
    TAG_GRID_CELL,
    clean_metrics,
    point_mlflow_at,
)
from tasks.retries import retry_unless_user_error
from tasks.segmentation.selection import beats

CHALLENGER = "challenger"
# Metrics copied onto each version so the registry UI shows why it won or lost.
VERSION_METRICS = ("silhouette", "stability_ari", "n_segments", "min_segment_share")
_VERSION, _ALIAS_HOLDER = "registered_version", "previous_alias_holder"


@dataclass(frozen=True)
class Promotion:
    """What happens in the registry, in words a reader of the run can check.

    Before registration `version` is None; `alias` None means nothing is to be registered.
    """

    model_name: str
    version: str | None
    alias: str | None
    previous_champion_version: str | None
    reason: str


def plan(
    *,
    model_name: str,
    cell_id: str,
    data_sha256: str,
    code_version: str,
    candidate_metrics: Mapping[str, float],
    evaluate_champion: Callable[[str], dict[str, float]],
) -> Promotion:
    """Which alias the candidate earns, if any, and why (the registry is only read).

    `evaluate_champion(model_uri)` scores the current champion on the current data with the same
    metrics as the candidate, so the comparison is fair when the data has changed.
    """
    champion = current_champion(model_name)
    if champion is None:
        alias, reason = CHAMPION, "No champion yet: the chosen model becomes the first champion."
        return Promotion(model_name, None, alias, None, reason)
    previous = champion.version
    if (
        champion.tags.get(TAG_GRID_CELL) == cell_id
        and champion.tags.get(TAG_DATA_SHA) == data_sha256
        and champion.tags.get(TAG_CODE_VERSION) == code_version
    ):
        reason = (
            f"Champion v{previous} is this very model (same grid cell, data and code): "
            "nothing registered."
        )
        return Promotion(model_name, None, None, previous, reason)
    if not loads_in_this_format(champion):
        reason = (
            f"Champion v{previous} predates the self-contained model format and cannot be "
            "loaded by this version: the chosen model replaces it."
        )
        return Promotion(model_name, None, CHAMPION, previous, reason)
    try:
        incumbent = evaluate_champion(f"models:/{model_name}@{CHAMPION}")
    except ParameterError as exc:  # its files are gone or unreadable: it serves no one now
        reason = f"Champion v{previous} cannot be loaded ({exc}): the chosen model replaces it."
        return Promotion(model_name, None, CHAMPION, previous, reason)
    won = beats(dict(candidate_metrics), incumbent)
    alias = CHAMPION if won else CHALLENGER
    reason = (
        f"On this data the new model {'beats' if won else 'does not beat'} champion v{previous} "
        f"(silhouette {candidate_metrics['silhouette']:.3f} vs {incumbent['silhouette']:.3f}, "
        f"stability {candidate_metrics['stability_ari']:.3f} vs "
        f"{incumbent['stability_ari']:.3f}): it is the {alias}."
    )
    return Promotion(model_name, None, alias, previous, reason)


@task(
    name="plan-promotion",
    cache_policy=NO_CACHE,
    retries=2,
    retry_condition_fn=retry_unless_user_error,
)
def plan_promotion(
    tracking_uri: str,
    model_name: str,
    cell_id: str,
    data_sha256: str,
    code_version: str,
    candidate_metrics: Mapping[str, float],
    evaluate_champion: Callable[[str], dict[str, float]],
) -> Promotion:
    """`plan`, retried: it reads the registry and loads the champion."""
    point_mlflow_at(tracking_uri)
    return plan(
        model_name=model_name,
        cell_id=cell_id,
        data_sha256=data_sha256,
        code_version=code_version,
        candidate_metrics=candidate_metrics,
        evaluate_champion=evaluate_champion,
    )


def version_tags(
    cell_id: str, data_sha256: str, code_version: str, metrics: Mapping[str, float]
) -> dict[str, str]:
    """What identifies a version (cell, data, code, format) and the metrics it was chosen on."""
    return {
        TAG_GRID_CELL: cell_id,
        TAG_DATA_SHA: data_sha256,
        TAG_CODE_VERSION: code_version,
        MODEL_FORMAT_TAG: MODEL_FORMAT,
        **{
            f"metric.{k}": f"{v:.6g}"
            for k, v in clean_metrics(metrics).items()
            if k in VERSION_METRICS
        },
    }


def _remember(name: str, value: object) -> None:
    """Keep what a rollback hook needs in the task's own transaction (none outside a flow)."""
    transaction = get_transaction()
    if transaction is not None:
        transaction.set(name, value)


@task(name="register-model-version", cache_policy=NO_CACHE)
def register_version(
    tracking_uri: str, model_name: str, model_uri: str, tags: Mapping[str, str]
) -> str:
    """Register `model_uri` as a new version of `model_name`; returns the version number.

    Not retried: a retry after a half-finished registration would leave a second version.
    """
    point_mlflow_at(tracking_uri)
    version = mlflow.register_model(model_uri, model_name, tags=dict(tags)).version
    _remember(_VERSION, (model_name, version))
    return version


@register_version.on_rollback
def _delete_version(transaction) -> None:
    model_name, version = transaction.get(_VERSION)
    MlflowClient().delete_model_version(model_name, version)


@task(
    name="move-alias",
    cache_policy=NO_CACHE,
    retries=2,
    retry_condition_fn=retry_unless_user_error,
)
def move_alias(tracking_uri: str, planned: Promotion, version: str) -> Promotion:
    """Point the planned alias at `version` (idempotent, so retried); returns the outcome."""
    point_mlflow_at(tracking_uri)
    client = MlflowClient()
    try:
        holder = client.get_model_version_by_alias(planned.model_name, planned.alias).version
    except MlflowException:
        holder = None
    _remember(_ALIAS_HOLDER, (planned.model_name, planned.alias, holder))
    client.set_registered_model_alias(planned.model_name, planned.alias, version)
    return replace(planned, version=version)


@move_alias.on_rollback
def _restore_alias(transaction) -> None:
    model_name, alias, holder = transaction.get(_ALIAS_HOLDER)
    client = MlflowClient()
    if holder is None:
        client.delete_registered_model_alias(model_name, alias)
    else:
        client.set_registered_model_alias(model_name, alias, holder)
