"""`ccseg history`'s content: movements between consecutive champions, tables, text and JSON."""

from __future__ import annotations

import io
import json

import pandas as pd
from matplotlib.image import imread

from tasks.mlops.history import History, RunRecord
from tasks.report.history import (
    SegmentHistory,
    champion_movements,
    history_json,
    history_text,
    shares_table,
)
from tasks.report.history_figure import shares_figure
from tasks.report.since_last_run import compare_with_previous


def record(number: int, outcome: str | None, version: str | None = None, **fields) -> RunRecord:
    defaults = {
        "run_id": f"run-{number}",
        "run_name": f"segmentation-{number}",
        "started": f"2026-11-0{number}T06:00:00+00:00",
        "status": "FINISHED",
        "data_name": f"batch{number}.csv",
        "digest": f"{number}" * 36,
        "rows_in": 5,
        "rows_clean": 4,
        "algorithm": "kmeans",
        "feature_set": "behavioural",
        "k": 2,
        "silhouette": 0.4,
        "stability": 0.9,
        "outcome": outcome,
        "version": version,
        "champion_version": version,
        "shares": {"Savers": 0.5, "Spenders": 0.5},
    }
    return RunRecord(**(defaults | fields))


def names(mapping: dict[str, str]) -> pd.Series:
    return pd.Series(mapping, name="segment_name").rename_axis("CUST_ID")


ASSIGNMENTS = {
    "run-1": names({"C1": "Savers", "C2": "Savers", "C3": "Spenders", "C4": "Spenders"}),
    "run-3": names({"C2": "Spenders", "C3": "Spenders", "C4": "Savers", "C9": "Savers"}),
}
RUNS = [
    record(1, "promoted", "1"),
    record(2, "challenger", "2"),
    record(3, "promoted", "3"),
]


def view(runs: list[RunRecord], shown: int | None = None) -> SegmentHistory:
    shown_runs = runs[-shown:] if shown else runs
    movements = champion_movements(runs, shown_runs, ASSIGNMENTS.get)
    return SegmentHistory(History("cc-segmentation", "sqlite:///x.db", runs), shown_runs, movements)


def test_movement_links_consecutive_champions_and_sums_to_the_customers_both_saw() -> None:
    (movement,) = champion_movements(RUNS, RUNS, ASSIGNMENTS.get)
    assert (movement.previous.run_id, movement.current.run_id) == ("run-1", "run-3")
    matrix = movement.migration.crosstab
    assert int(matrix.to_numpy().sum()) == 3  # C2, C3, C4: the customers both runs saw
    assert matrix.loc["Savers", "Spenders"] == 1 and matrix.loc["Spenders", "Savers"] == 1
    assert (movement.migration.only_previous, movement.migration.only_current) == (1, 1)


def test_a_champion_before_the_window_still_gives_the_movement_into_a_shown_one() -> None:
    (movement,) = champion_movements(RUNS, RUNS[-1:], ASSIGNMENTS.get)
    assert movement.previous.run_id == "run-1"
    assert champion_movements(RUNS, RUNS[:2], ASSIGNMENTS.get) == []


def test_a_run_whose_assignments_were_not_kept_gives_an_unknown_movement() -> None:
    (movement,) = champion_movements(RUNS, RUNS, {"run-1": ASSIGNMENTS["run-1"]}.get)
    assert movement.migration is None
    assert "not known" in history_text(SegmentHistory(History("e", "u", RUNS), RUNS, [movement]))
    assert movement.to_dict()["matrix"] is None


def test_the_text_lists_each_run_its_shares_and_who_moved() -> None:
    text = history_text(view(RUNS))
    assert "Last 3 of 3 run(s) in experiment 'cc-segmentation'" in text
    for number, outcome in ((1, "promoted v1"), (2, "challenger v2"), (3, "promoted v3")):
        line = next(line for line in text.splitlines() if f"batch{number}.csv" in line)
        assert f"({str(number) * 12})" in line and outcome in line
    assert "Who moved, champion v1 (run #1, 2026-11-01 06:00) -> champion v3 (run #3" in text
    assert "3 customers in both runs (matched by CUST_ID); 1 kept their segment name" in text


def test_no_runs_one_run_and_a_failed_run_each_read_clearly() -> None:
    assert history_text(view([])) == (
        "No segmentation runs yet in experiment 'cc-segmentation' at sqlite:///x.db: "
        "`ccseg run` records the first one."
    )
    one = history_text(view(RUNS[:1]))
    assert "No movement to show: 1 champion(s) in the store" in one
    failed = record(4, None, status="FAILED", algorithm=None, k=None, shares={})
    text = history_text(view([*RUNS[:1], failed]))
    failed_line = next(line for line in text.splitlines() if "batch4.csv" in line)
    assert failed_line.split()[-1] == "failed"


def test_shares_table_has_every_name_any_shown_run_found() -> None:
    later = record(2, "promoted", "2", shares={"Savers": 0.25, "Revolvers": 0.75})
    table = shares_table([RUNS[0], later])
    assert table.to_dict(orient="index") == {
        "Savers": {"#1": "50.0%", "#2": "25.0%"},
        "Spenders": {"#1": "50.0%", "#2": "-"},
        "Revolvers": {"#1": "-", "#2": "75.0%"},
    }


def test_the_json_carries_the_runs_oldest_first_and_the_movement_matrix() -> None:
    data = json.loads(history_json(view(RUNS)))
    assert [r["digest"] for r in data["runs"]] == ["1" * 36, "2" * 36, "3" * 36]
    assert [r["outcome"] for r in data["runs"]] == ["promoted", "challenger", "promoted"]
    (movement,) = data["movements"]
    assert movement["customers_in_both"] == 3
    assert sum(n for row in movement["matrix"].values() for n in row.values()) == 3


def test_the_shares_figure_draws_a_bar_per_run_with_shares_and_none_without() -> None:
    failed = record(4, None, status="FAILED", shares={})
    assert shares_figure([failed]) is None
    image = imread(io.BytesIO(shares_figure([*RUNS, failed])), format="png")
    assert image.shape[1] == round(100 * (1.1 * 3 + 3.5))  # wider per run: 3 runs, 680 px


def test_the_report_sentence_compares_this_run_with_the_one_before() -> None:
    later = record(2, "promoted", "2", shares={"Savers": 0.25, "Revolvers": 0.75})
    sentence = compare_with_previous([RUNS[0], later])
    assert "on other data (batch1.csv) and chose kmeans with k = 2 (promoted)" in sentence
    assert "Savers 50.0% → 25.0%" in sentence
    assert "New names: Revolvers." in sentence and "Names no longer found: Spenders." in sentence
    assert "nothing to compare yet" in compare_with_previous(RUNS[:1])
