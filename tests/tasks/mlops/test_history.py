"""Reading parent runs back as history records: order, failed runs, absent stores and files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tasks.mlops.history import load_assignments, read_history
from tasks.mlops.retention import collect_garbage


def test_a_missing_sqlite_store_reads_as_no_runs_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "mlflow.db"
    history = read_history(f"sqlite:///{missing}", "cc-segmentation")
    assert history.records == []
    assert not missing.exists()


def test_an_experiment_that_never_ran_reads_as_no_runs(store) -> None:
    assert read_history(store.tracking_uri, "never-ran").records == []


def test_runs_read_oldest_first_without_their_grid_cells_and_a_failed_one_says_so(store) -> None:
    client = store.client
    done = client.create_run(store.experiment_id, start_time=1_000)
    client.set_tag(done.info.run_id, "ccseg.promotion.outcome", "promoted")
    client.set_tag(done.info.run_id, "ccseg.promotion.version", "1")
    client.set_tag(done.info.run_id, "ccseg.segment_shares", json.dumps({"A": 0.6, "B": 0.4}))
    client.create_run(store.experiment_id, tags={"mlflow.parentRunId": done.info.run_id})
    client.set_terminated(done.info.run_id)
    failed = client.create_run(store.experiment_id, start_time=2_000)
    client.log_metric(failed.info.run_id, "rows_in", 300)
    client.set_terminated(failed.info.run_id, status="FAILED")

    records = read_history(store.tracking_uri, store.experiment_name).records

    assert [r.run_id for r in records] == [done.info.run_id, failed.info.run_id]
    first, second = records
    assert (first.outcome, first.version, first.is_champion) == ("promoted", "1", True)
    assert first.shares == {"A": 0.6, "B": 0.4}
    assert (second.status, second.outcome, second.rows_in, second.shares) == (
        "FAILED",
        None,
        300,
        {},
    )
    assert second.is_champion is False


def test_a_run_without_kept_assignments_has_none(store) -> None:
    run = store.client.create_run(store.experiment_id)
    assert load_assignments(store.tracking_uri, run.info.run_id) is None


def test_gc_keeps_the_history_folder_of_the_runs_it_cleans(store, tmp_path: Path) -> None:
    note = tmp_path / "assignments.csv.gz"
    note.write_bytes(b"x" * 100)
    runs = []
    for start in (1_000, 2_000):
        run = store.client.create_run(store.experiment_id, start_time=start)
        store.client.log_artifact(run.info.run_id, str(note), "history")
        store.client.log_artifact(run.info.run_id, str(note), "report")
        store.client.set_terminated(run.info.run_id)
        runs.append(run.info.run_id)

    collect_garbage(store.tracking_uri, store.experiment_name, keep=1)

    old = [a.path for a in store.client.list_artifacts(runs[0])]
    assert old == ["history"]
    assert [a.path for a in store.client.list_artifacts(runs[0], "history")] == [
        "history/assignments.csv.gz"
    ]


def test_assignments_recorded_as_gzipped_csv_before_parquet_still_load(store, tmp_path) -> None:
    legacy = tmp_path / "assignments.csv.gz"
    pd.DataFrame({"CUST_ID": ["C1", "NA"], "segment_name": ["Savers", "Revolvers"]}).to_csv(
        legacy, index=False, compression="gzip"
    )
    run = store.client.create_run(store.experiment_id)
    store.client.log_artifact(run.info.run_id, str(legacy), "history")
    loaded = load_assignments(store.tracking_uri, run.info.run_id)
    assert loaded.to_dict() == {"C1": "Savers", "NA": "Revolvers"}
