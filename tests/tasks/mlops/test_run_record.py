"""What a parent run records for comparison: dataset, experiment kind, decision, assignments."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.types.utils import _infer_schema

from tasks.data.ingest import ValidationSummary
from tasks.mlops.history import load_assignments
from tasks.mlops.registry import Promotion
from tasks.mlops.run_record import (
    ASSIGNMENTS_PATH,
    Decision,
    data_digest,
    dataset_schema,
    log_data_input,
    log_decision,
    mark_model_development,
    promotion_outcome,
    share_metric_key,
)
from tasks.segmentation.grid import GridCell

CELL = GridCell("log_scaled", "kmeans", 3, 0)
ASSIGNMENTS = pd.Series(
    ["Savers", "Savers", "Savers", "Big & bold (cash)"],
    index=pd.Index(["C1", "C2", "C3", "C4"], name="CUST_ID"),
    name="segment_name",
)


def summary(sha256: str) -> ValidationSummary:
    return ValidationSummary(
        source="batch.csv",
        sha256=sha256,
        rows_in=5,
        rows_clean=4,
        rows_quarantined=1,
        hard_rule_counts={},
        soft_rule_counts={},
    )


def clean_frame() -> pd.DataFrame:
    return pd.DataFrame({"CUST_ID": ["C1", "C2", "C3", "C4"], "BALANCE": [1.0, 2.0, 3.0, 4.0]})


def test_a_digest_filter_finds_exactly_the_run_that_read_that_file(store, tmp_path: Path) -> None:
    runs = {}
    for sha in ("a" * 64, "b" * 64):
        data = tmp_path / f"{sha[0]}.csv"
        data.write_text("x")
        with mlflow.start_run(experiment_id=store.experiment_id) as run:
            log_data_input(summary(sha), data, clean_frame())
        runs[sha] = run.info.run_id

    for sha, run_id in runs.items():
        found = mlflow.search_runs(
            [store.experiment_id], filter_string=f"dataset.digest = '{data_digest(sha)}'"
        )
        assert found["run_id"].tolist() == [run_id]
    logged = store.client.get_run(runs["a" * 64]).inputs.dataset_inputs[0]
    assert logged.dataset.digest == "a" * 36
    assert logged.dataset.name == "a.csv"
    assert str(tmp_path / "a.csv") in logged.dataset.source
    tags = {t.key: t.value for t in logged.tags}
    assert tags["sha256"] == "a" * 64
    assert (tags["rows_in"], tags["rows_clean"], tags["rows_quarantined"]) == ("5", "4", "1")


def test_the_dataset_schema_is_what_mlflow_infers_even_when_a_late_row_is_missing() -> None:
    rows = 3_000  # beyond the head MLflow's types are read from
    frame = pd.DataFrame(
        {
            "CUST_ID": [f"C{i}" for i in range(rows)],
            "BALANCE": np.linspace(0, 1, rows),
            "MINIMUM_PAYMENTS": np.r_[np.ones(rows - 1), np.nan],
            "TENURE": np.full(rows, 12, dtype=np.int64),
        }
    )
    schema = dataset_schema(frame)
    assert schema == _infer_schema(frame)
    assert [c.required for c in schema.inputs] == [True, True, False, True]


def test_the_experiment_is_tagged_as_model_development_so_the_ui_opens_on_runs(store) -> None:
    mark_model_development(store.tracking_uri, store.experiment_id)
    tags = store.client.get_experiment(store.experiment_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"


@pytest.mark.parametrize(
    ("alias", "version", "previous", "outcome", "champion_after"),
    [
        ("champion", "2", "1", "promoted", "2"),
        ("challenger", "2", "1", "challenger", "1"),
        (None, None, "1", "unchanged", "1"),
    ],
)
def test_the_outcome_and_the_champion_after_the_run_follow_the_alias(
    alias, version, previous, outcome, champion_after
) -> None:
    promotion = Promotion("m", version, alias, previous, "why")
    assert promotion_outcome(promotion) == outcome
    assert Decision(CELL, 3, promotion, ASSIGNMENTS).champion_version == champion_after


def test_a_segment_name_becomes_a_metric_key_mlflow_accepts(store) -> None:
    key = share_metric_key("Big & bold (cash)")
    assert key == "segment_share.Big _ bold _cash_"
    with mlflow.start_run(experiment_id=store.experiment_id) as run:
        mlflow.log_metric(key, 0.25)
    assert store.client.get_run(run.info.run_id).data.metrics == {key: 0.25}


def test_the_decision_is_on_the_parent_run_with_the_chosen_model_and_who_is_where(
    store, register
) -> None:
    version = str(register(alias="champion"))
    parent = store.client.create_run(store.experiment_id)
    promotion = Promotion(store.model_name, version, "champion", None, "first champion")

    log_decision(store.tracking_uri, parent.info.run_id, Decision(CELL, 3, promotion, ASSIGNMENTS))

    run = store.client.get_run(parent.info.run_id)
    tags = run.data.tags
    assert tags["ccseg.decision.cell"] == CELL.cell_id
    assert (tags["ccseg.decision.algorithm"], tags["ccseg.decision.k"]) == ("kmeans", "3")
    assert tags["ccseg.promotion.outcome"] == "promoted"
    assert tags["ccseg.promotion.version"] == version
    assert tags["ccseg.promotion.model_uri"] == f"models:/{store.model_name}/{version}"
    registered = store.client.get_model_version(store.model_name, version)
    assert [o.model_id for o in run.outputs.model_outputs] == [
        registered.source.removeprefix("models:/")
    ]
    assert registered.tags["ccseg.parent_run_id"] == parent.info.run_id
    assert run.data.metrics == {
        "segment_share.Savers": 0.75,
        "segment_share.Big _ bold _cash_": 0.25,
    }
    read_back = load_assignments(store.tracking_uri, parent.info.run_id)
    pd.testing.assert_series_equal(read_back, ASSIGNMENTS)
    artifacts = [a.path for a in store.client.list_artifacts(parent.info.run_id, "history")]
    assert artifacts == [ASSIGNMENTS_PATH]


def test_an_unchanged_run_links_the_champion_it_matched(store, register) -> None:
    version = str(register(alias="champion"))
    parent = store.client.create_run(store.experiment_id)
    promotion = Promotion(store.model_name, None, None, version, "same model")

    log_decision(store.tracking_uri, parent.info.run_id, Decision(CELL, 3, promotion, ASSIGNMENTS))

    run = store.client.get_run(parent.info.run_id)
    assert run.data.tags["ccseg.promotion.outcome"] == "unchanged"
    assert run.data.tags["ccseg.promotion.version"] == ""
    assert run.data.tags["ccseg.promotion.champion_version"] == version
    assert len(run.outputs.model_outputs) == 1
    registered = store.client.get_model_version(store.model_name, version)
    assert "ccseg.parent_run_id" not in registered.tags  # it belongs to the run that made it
