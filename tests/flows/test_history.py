"""Three flow runs on three synthetic batches, then `ccseg history` as a user reads it."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from ccseg.cli import main
from core.settings import PipelineSettings
from tasks.data.synthetic import write_synthetic
from tasks.segmentation.grid import parse_grid_spec

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

BATCHES = ((1_500, 1), (1_800, 2), (1_600, 3))  # rows, seed: CUST_IDs overlap by prefix
TINY_GRID = {
    "feature_sets": ["log_scaled"],
    "algorithms": [{"name": "kmeans", "ks": [3, 4]}],
    "seeds": [0],
    "stability_resamples": 10,
    "silhouette_sample_size": 1_000,
    "finalists": {"count": 1, "seeds": 1, "resamples": 50, "n_init": 2},
}


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory):
    """Work dir, the batches' files and the three flow summaries, oldest first."""
    from flows.segmentation import segmentation

    work_dir = tmp_path_factory.mktemp("history")
    files, summaries = [], []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CCSEG_WORK_DIR", str(work_dir))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        for rows, seed in BATCHES:
            data = work_dir / f"batch-{seed}.csv"
            write_synthetic(rows, seed, data)
            files.append(data)
            summaries.append(segmentation(data_path=data, grid=parse_grid_spec(TINY_GRID)))
            segments = pd.read_csv(summaries[-1].segments_path, dtype={"CUST_ID": str})
            summaries[-1] = (summaries[-1], segments)
    return work_dir, files, summaries


@pytest.fixture
def history(three_runs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    work_dir = three_runs[0]
    monkeypatch.setenv("CCSEG_WORK_DIR", str(work_dir))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_history_lists_the_three_runs_with_their_digests_decisions_and_shares(
    three_runs, history
) -> None:
    _, files, summaries = three_runs
    runs = history["runs"]
    assert [r["run_id"] for r in runs] == [s.parent_run_id for s, _ in summaries]
    for run, data, (summary, segments) in zip(runs, files, summaries, strict=True):
        assert run["digest"] == hashlib.sha256(data.read_bytes()).hexdigest()[:36]
        assert (run["data_name"], run["rows_in"]) == (data.name, summary.rows_in)
        assert run["cell"] == summary.chosen_cell_id and run["k"] == summary.n_segments
        outcome = {"champion": "promoted", "challenger": "challenger", None: "unchanged"}
        assert run["outcome"] == outcome[summary.promotion.alias]
        version = summary.promotion.version
        assert run["version"] == (None if version is None else str(version))
        shares = segments["segment_name"].value_counts(normalize=True).to_dict()
        assert run["shares"] == pytest.approx(shares)


def test_a_dataset_digest_filter_finds_exactly_its_run(three_runs, history) -> None:
    work_dir, _, summaries = three_runs
    settings = PipelineSettings(work_dir=work_dir)
    mlflow.set_tracking_uri(settings.tracking_uri)
    for run, (summary, _) in zip(history["runs"], summaries, strict=True):
        found = mlflow.search_runs(
            experiment_names=[settings.experiment_name],
            filter_string=f"dataset.digest = '{run['digest']}'",
        )
        assert found["run_id"].tolist() == [summary.parent_run_id]


def test_each_movement_sums_to_the_customers_both_champions_saw(three_runs, history) -> None:
    _, _, summaries = three_runs
    by_run = {s.parent_run_id: segments for s, segments in summaries}
    champions = [s.parent_run_id for s, _ in summaries if s.promotion.alias == "champion"]
    movements = history["movements"]
    assert [(m["from_run_id"], m["to_run_id"]) for m in movements] == list(
        itertools.pairwise(champions)
    )
    assert movements, "the batches were chosen so that a later run beats the first champion"
    for movement in movements:
        before, after = by_run[movement["from_run_id"]], by_run[movement["to_run_id"]]
        shared = len(set(before["CUST_ID"]) & set(after["CUST_ID"]))
        matrix_total = sum(n for row in movement["matrix"].values() for n in row.values())
        assert matrix_total == movement["customers_in_both"] == shared


def test_the_text_history_and_the_report_show_the_same_runs(
    three_runs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work_dir, files, summaries = three_runs
    monkeypatch.setenv("CCSEG_WORK_DIR", str(work_dir))
    assert main(["history", "--last", "2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Last 2 of 3 run(s)")
    assert files[0].name not in text and all(f.name in text for f in files[1:])
    report = Path(summaries[-1][0].report_path).read_text(encoding="utf-8")
    assert '<section id="since-last-run">' in report
    assert all(f"{f.name} (" in report for f in files)
