"""Model registry: register the chosen pipeline as `cc-segmentation` and guard the `champion` alias.

The alias moves only when the new model beats the current champion under the selection rule,
both judged on the same (current) data; otherwise the new version is the `challenger`. A rerun
that would register the very same model (same grid cell, data and code) registers nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tasks.mlops.tracking import (
    TAG_CODE_VERSION,
    TAG_DATA_SHA,
    TAG_GRID_CELL,
    clean_metrics,
    point_mlflow_at,
)
from tasks.segmentation.selection import beats

CHAMPION = "champion"
CHALLENGER = "challenger"
# Metrics copied onto each version so the registry UI shows why it won or lost.
VERSION_METRICS = ("silhouette", "stability_ari", "n_segments", "min_segment_share")


@dataclass(frozen=True)
class Promotion:
    """What happened in the registry, in words a reader of the run can check."""

    model_name: str
    version: str | None
    alias: str | None
    previous_champion_version: str | None
    reason: str


def _champion(client: MlflowClient, name: str):
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def promote(
    *,
    tracking_uri: str,
    model_name: str,
    model_uri: str,
    cell_id: str,
    data_sha256: str,
    code_version: str,
    candidate_metrics: Mapping[str, float],
    evaluate_champion: Callable[[str], dict[str, float]],
) -> Promotion:
    """Register the candidate and set `champion` or `challenger`.

    `evaluate_champion(model_uri)` scores the current champion on the current data with the same
    metrics as the candidate, so the comparison is fair when the data has changed.
    """
    point_mlflow_at(tracking_uri)
    client = MlflowClient(tracking_uri)
    champion = _champion(client, model_name)
    if champion is not None and (
        champion.tags.get(TAG_GRID_CELL) == cell_id
        and champion.tags.get(TAG_DATA_SHA) == data_sha256
        and champion.tags.get(TAG_CODE_VERSION) == code_version
    ):
        return Promotion(
            model_name,
            None,
            None,
            champion.version,
            f"Champion v{champion.version} is this very model (same grid cell, data and code): "
            "nothing registered.",
        )

    if champion is None:
        alias, reason = CHAMPION, "No champion yet: the chosen model becomes the first champion."
    else:
        incumbent = evaluate_champion(f"models:/{model_name}@{CHAMPION}")
        won = beats(dict(candidate_metrics), incumbent)
        alias = CHAMPION if won else CHALLENGER
        verdict = "beats" if won else "does not beat"
        reason = (
            f"On this data the new model {verdict} champion v{champion.version} "
            f"(silhouette {candidate_metrics['silhouette']:.3f} vs {incumbent['silhouette']:.3f}, "
            f"stability {candidate_metrics['stability_ari']:.3f} vs "
            f"{incumbent['stability_ari']:.3f}): it is the {alias}."
        )

    tags = {
        TAG_GRID_CELL: cell_id,
        TAG_DATA_SHA: data_sha256,
        TAG_CODE_VERSION: code_version,
        **{
            f"metric.{k}": f"{v:.6g}"
            for k, v in clean_metrics(candidate_metrics).items()
            if k in VERSION_METRICS
        },
    }
    version = mlflow.register_model(model_uri, model_name, tags=tags)
    client.set_registered_model_alias(model_name, alias, version.version)
    return Promotion(
        model_name,
        version.version,
        alias,
        champion.version if champion is not None else None,
        reason,
    )
