"""Segment tables on disk: CSV and Parquet with the same rows, written without half files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.segmentation.assignments import write_table

TABLE = pd.DataFrame(
    {"CUST_ID": ["C1", "C2"], "segment": [0, 1], "segment_name": ["A", "B"], "distance": [0.5, 1.0]}
)


def test_write_table_writes_the_same_rows_as_csv_and_parquet(tmp_path: Path) -> None:
    written = write_table(TABLE, tmp_path / "out" / "segments.csv")

    assert written == tmp_path / "out" / "segments.csv"
    pd.testing.assert_frame_equal(pd.read_csv(written), TABLE)
    pd.testing.assert_frame_equal(pd.read_parquet(written.with_suffix(".parquet")), TABLE)


def test_write_table_replaces_an_older_table_and_leaves_no_staging_file(tmp_path: Path) -> None:
    target = tmp_path / "segments.csv"
    write_table(TABLE, target)

    write_table(TABLE.head(1), target)

    assert len(pd.read_csv(target)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segments.csv", "segments.parquet"]


def test_text_with_commas_and_quotes_and_missing_distances_read_back_as_written(
    tmp_path: Path,
) -> None:
    table = pd.DataFrame(
        {
            "CUST_ID": ['C1, "the first"', "C2"],
            "segment": [0, 1],
            "segment_name": ["Cash, revolvers", "B"],
            "distance": [float("nan"), 1.5],
        }
    )
    written = write_table(table, tmp_path / "segments.csv")

    pd.testing.assert_frame_equal(pd.read_csv(written), table)
    pd.testing.assert_frame_equal(pd.read_parquet(written.with_suffix(".parquet")), table)
