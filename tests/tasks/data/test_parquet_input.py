"""Parquet input: the CSV's contract, quarantine and invariant, and one-line file-level errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import FileLevelError
from schemas.columns import CUST_ID
from tasks.data.ingest import check_file_head, read_and_validate
from tasks.data.parquet_input import duplicate_rows
from tasks.data.synthetic import write_synthetic

ROWS = 400


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(ROWS, 11, tmp_path_factory.mktemp("parquet") / "customers.csv")


@pytest.fixture(scope="module")
def as_read(csv_file: Path) -> pd.DataFrame:
    """The synthetic file as a user would load it before writing Parquet."""
    return pd.read_csv(csv_file)


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def test_a_parquet_file_gives_the_same_clean_frame_as_its_csv(csv_file, as_read, tmp_path):
    parquet = write(as_read, tmp_path / "customers.parquet")

    from_csv, from_parquet = read_and_validate(csv_file), read_and_validate(parquet)

    pd.testing.assert_frame_equal(from_parquet.clean, from_csv.clean)
    assert from_parquet.summary.rows_in == ROWS == from_parquet.summary.rows_clean
    assert from_parquet.summary.soft_rule_counts == from_csv.summary.soft_rule_counts
    assert from_parquet.summary.sha256 == hashlib.sha256(parquet.read_bytes()).hexdigest()


def test_bad_parquet_rows_are_quarantined_with_reasons_and_the_counts_add_up(as_read, tmp_path):
    frame = as_read.head(40).copy()
    frame.loc[3, "BALANCE"] = -5.0
    frame.loc[4, CUST_ID] = None
    frame.loc[5, "TENURE"] = 0
    frame["PURCHASES"] = frame["PURCHASES"].astype(str)  # stored as text: parsed like the CSV
    frame.loc[10, "PURCHASES"] = "twelve"
    frame = pd.concat([frame, frame.iloc[[7]]], ignore_index=True)  # an exact copy of row 8
    path = write(frame, tmp_path / "bad.parquet")

    result = read_and_validate(path)

    s = result.summary
    assert s.rows_in == 41 == s.rows_clean + s.rows_quarantined
    reasons = dict(zip(result.quarantine["line"], result.quarantine["reasons"], strict=True))
    assert reasons == {
        4: "negative_value:BALANCE",
        5: "cust_id_missing:CUST_ID",
        6: "tenure_out_of_range:TENURE",
        11: "not_a_number:PURCHASES",
        41: "duplicate_row",
    }
    assert result.quarantine.loc[result.quarantine["line"] == 11, "PURCHASES"].item() == "twelve"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f, p: write(f.head(0), p), "no data rows"),
        (lambda f, p: write(f.drop(columns=["TENURE"]).head(5), p), "required column(s) missing"),
        (
            lambda f, p: p.write_bytes(b"PAR1" + b"\x00" * 64) and p,
            "not a readable Parquet file",
        ),
    ],
    ids=["schema_only", "column_missing", "truncated"],
)
def test_a_broken_parquet_file_fails_in_one_line_before_any_work(as_read, tmp_path, make, message):
    path = tmp_path / "broken.parquet"
    make(as_read, path)

    for check in (check_file_head, read_and_validate):
        with pytest.raises(FileLevelError) as error:
            check(path)
        assert message in str(error.value) and "\n" not in str(error.value)


def test_duplicate_rows_match_pandas_with_signed_zeros_nans_and_missing_ids():
    frame = pd.DataFrame(
        {
            "CUST_ID": ["C1", "C1", None, None, "C2", "C1"],
            "BALANCE": [0.0, -0.0, np.nan, np.nan, 1.0, 0.0],
            "TENURE": [12, 12, 6, 6, 12, 11],
        }
    )
    assert duplicate_rows(frame).tolist() == frame.duplicated(keep="first").tolist()
    assert duplicate_rows(frame).tolist() == [False, True, False, True, False, False]


def test_rows_that_only_share_a_hash_are_not_duplicates(monkeypatch):
    """Every row hashing alike (a forced collision): the exact comparison still decides."""
    monkeypatch.setattr(pd.util, "hash_array", lambda values: np.zeros(len(values), np.uint64))
    frame = pd.DataFrame({"CUST_ID": ["C1", "C2", "C1"], "BALANCE": [1.0, 2.0, 1.0]})
    assert duplicate_rows(frame).tolist() == [False, False, True]


def test_rows_whose_ids_are_all_different_are_never_compared(monkeypatch):
    """Equal rows share an id: a file of unique ids costs one pass over the ids, no row hashing."""

    def no_hashing(values):
        raise AssertionError("rows with unique ids were hashed")

    monkeypatch.setattr(pd.util, "hash_array", no_hashing)
    frame = pd.DataFrame({"CUST_ID": ["C1", "C2", "C3"], "BALANCE": [1.0, 1.0, 1.0]})
    assert duplicate_rows(frame).tolist() == [False, False, False]


def test_a_repeated_id_with_other_values_is_not_a_duplicate_row():
    frame = pd.DataFrame({"CUST_ID": ["C1", "C2", "C1", "C1"], "BALANCE": [1.0, 1.0, 2.0, 1.0]})
    assert duplicate_rows(frame).tolist() == [False, False, False, True]


def test_a_stored_pandas_index_does_not_change_which_rows_are_quarantined(as_read, tmp_path):
    frame = as_read.head(30).copy()
    frame.loc[2, "BALANCE"] = -1.0
    frame.index = [f"row-{i}" for i in range(len(frame))]  # written into the file as a column
    frame.to_parquet(tmp_path / "indexed.parquet", index=True)

    result = read_and_validate(tmp_path / "indexed.parquet")

    assert (result.summary.rows_clean, result.summary.rows_quarantined) == (29, 1)
    assert result.quarantine["line"].tolist() == [3]
    assert list(result.clean.index) == list(range(29))


def test_ids_that_only_read_alike_as_text_are_told_apart_by_the_rows():
    frame = pd.DataFrame({"CUST_ID": [1, "1", 1, None, None], "BALANCE": [2.0, 2.0, 2.0, 3.0, 3.0]})
    assert duplicate_rows(frame).tolist() == frame.duplicated(keep="first").tolist()
    assert duplicate_rows(frame).tolist() == [False, False, True, False, True]
