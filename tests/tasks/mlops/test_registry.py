"""Promotion: who gets which alias, and registering and aliasing undone by a rollback."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from prefect import flow
from prefect.transactions import transaction

from core.errors import ParameterError
from tasks.mlops.model_logging import MODEL_FORMAT, MODEL_FORMAT_TAG
from tasks.mlops.registry import (
    Promotion,
    move_alias,
    plan,
    register_version,
    version_tags,
)
from tasks.segmentation.selection import PROMOTION_MARGIN

from .conftest import CELL

CANDIDATE = {
    "n_segments": 4.0,
    "min_segment_share": 0.2,
    "noise_share": 0.0,
    "stability_ari": 0.9,
    "silhouette": 0.30,
}


def planned(store, metrics=CANDIDATE, incumbent=CANDIDATE, data="data-2", code="code-1"):
    """The plan for a candidate from CELL, with the champion scoring `incumbent` on this data."""
    judged: list[str] = []

    def evaluate(model_uri: str) -> dict[str, float]:
        judged.append(model_uri)
        return dict(incumbent)

    outcome = plan(
        model_name=store.model_name,
        cell_id=CELL.cell_id,
        data_sha256=data,
        code_version=code,
        candidate_metrics=metrics,
        evaluate_champion=evaluate,
    )
    return outcome, judged


def test_the_first_model_becomes_champion_without_judging_anyone(store) -> None:
    outcome, judged = planned(store)

    assert outcome == Promotion(
        store.model_name,
        None,
        "champion",
        None,
        "No champion yet: the chosen model becomes the first champion.",
    )
    assert judged == []


def test_a_rerun_on_the_same_data_and_code_registers_nothing(store, register) -> None:
    champion = register(data_sha256="data-1")

    outcome, judged = planned(store, data="data-1")

    assert (outcome.alias, outcome.previous_champion_version) == (None, champion)
    assert "nothing registered" in outcome.reason
    assert judged == []


def test_a_better_model_takes_the_champion_alias(store, register) -> None:
    champion = register()
    better = CANDIDATE | {"silhouette": 0.30 + 2 * PROMOTION_MARGIN}

    outcome, judged = planned(store, metrics=better)

    assert (outcome.alias, outcome.previous_champion_version) == ("champion", champion)
    assert judged == [f"models:/{store.model_name}@champion"]
    assert "beats champion" in outcome.reason


def test_a_model_within_the_margin_is_only_the_challenger(store, register) -> None:
    register()
    close = CANDIDATE | {"silhouette": 0.30 + PROMOTION_MARGIN / 2}

    outcome, _ = planned(store, metrics=close)

    assert outcome.alias == "challenger"
    assert "does not beat champion" in outcome.reason


def test_a_champion_from_before_the_self_contained_format_is_replaced_unjudged(
    store, register
) -> None:
    legacy = register(tags={"grid_cell": CELL.cell_id, "data.sha256": "data-0"})

    outcome, judged = planned(store, metrics=CANDIDATE | {"silhouette": 0.01})

    assert (outcome.alias, outcome.previous_champion_version) == ("champion", legacy)
    assert "predates the self-contained model format" in outcome.reason
    assert judged == []


def test_a_champion_that_cannot_be_loaded_is_replaced(store, register) -> None:
    broken = register()

    def unloadable(model_uri: str) -> dict[str, float]:
        raise ParameterError(f"cannot load {model_uri}: its files are gone")

    outcome = plan(
        model_name=store.model_name,
        cell_id=CELL.cell_id,
        data_sha256="data-2",
        code_version="code-1",
        candidate_metrics=CANDIDATE,
        evaluate_champion=unloadable,
    )

    assert (outcome.alias, outcome.previous_champion_version) == ("champion", broken)
    assert "its files are gone" in outcome.reason and "replaces it" in outcome.reason


def test_version_tags_identify_cell_data_code_and_format() -> None:
    tags = version_tags(CELL.cell_id, "sha", "abc123", CANDIDATE | {"fit_seconds": 1.0})

    assert tags == {
        "grid_cell": CELL.cell_id,
        "data.sha256": "sha",
        "code.version": "abc123",
        MODEL_FORMAT_TAG: MODEL_FORMAT,
        "metric.silhouette": "0.3",
        "metric.stability_ari": "0.9",
        "metric.n_segments": "4",
        "metric.min_segment_share": "0.2",
    }


def versions(store) -> list[str]:
    found = store.client.search_model_versions(f"name = '{store.model_name}'")
    return sorted(v.version for v in found)


@pytest.mark.usefixtures("prefect_api")
def test_a_failure_after_the_alias_moved_restores_the_previous_champion(store, register) -> None:
    champion = register()
    before = versions(store)
    model_uri = f"models:/{store.model_name}/{champion}"
    intended = Promotion(store.model_name, None, "champion", champion, "better")

    @flow
    def promote_then_fail() -> None:
        with transaction():
            version = register_version(store.tracking_uri, store.model_name, model_uri, {})
            move_alias(store.tracking_uri, intended, version)
            raise RuntimeError("loading the new version back failed")

    with pytest.raises(RuntimeError, match="loading the new version back failed"):
        promote_then_fail()

    holder = store.client.get_model_version_by_alias(store.model_name, "champion")
    assert holder.version == champion
    assert versions(store) == before


@pytest.mark.usefixtures("prefect_api")
def test_a_rolled_back_alias_that_had_no_holder_is_removed(store, register) -> None:
    champion = register()
    model_uri = f"models:/{store.model_name}/{champion}"
    intended = Promotion(store.model_name, None, "challenger", champion, "close")

    @flow
    def challenge_then_fail() -> Promotion:
        with transaction():
            version = register_version(store.tracking_uri, store.model_name, model_uri, {})
            outcome = move_alias(store.tracking_uri, intended, version)
            assert outcome.version == version
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        challenge_then_fail()

    with pytest.raises(MlflowException):
        store.client.get_model_version_by_alias(store.model_name, "challenger")
    assert versions(store) == [champion]


@pytest.mark.usefixtures("prefect_api")
def test_a_transaction_that_completes_keeps_the_new_version_and_its_alias(store, register) -> None:
    champion = register()
    model_uri = f"models:/{store.model_name}/{champion}"
    intended = Promotion(store.model_name, None, "champion", champion, "better")

    @flow
    def promote() -> Promotion:
        with transaction():
            version = register_version(store.tracking_uri, store.model_name, model_uri, {})
            return move_alias(store.tracking_uri, intended, version)

    outcome = promote()

    holder = store.client.get_model_version_by_alias(store.model_name, "champion")
    assert holder.version == outcome.version != champion
