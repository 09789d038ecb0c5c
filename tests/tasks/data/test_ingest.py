"""Ingest outputs: the clean-frame contract, quarantine text, the three files, and the real file."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas.columns import NULLABLE_COLUMNS, NUMERIC_COLUMNS, RAW_COLUMNS
from schemas.raw import CLEAN_DTYPES, HARD_RULES, SOFT_RULES
from tasks.data.ingest import IngestResult, read_and_validate, write_outputs

WriteFile = Callable[..., Path]

REAL_SHA256 = "a2dd145e41d85b22547c506076ece35ebc6d948dacac1803749b43a9716d0494"
REAL_SOFT_COUNTS = {
    "frequency_above_one": 8,
    "purchases_split_mismatch": 19,
    "subfrequency_above_purchases_frequency": 19,
    "balance_over_limit": 227,
    "minimum_payment_above_payments": 2_365,
    "purchases_without_transactions": 6,
    "cash_advance_count_mismatch": 0,
    "credit_limit_missing": 1,
    "minimum_payments_missing": 313,
}
REAL_MEANS = {
    "BALANCE": 1564.474828,
    "PURCHASES": 1003.204834,
    "CREDIT_LIMIT": 4494.449450,
    "MINIMUM_PAYMENTS": 864.206542,
}
REAL_TENURE_COUNTS = {12: 7_584, 11: 365, 10: 236, 9: 175, 8: 196, 7: 190, 6: 204}


def _assert_follows_clean_contract(clean: pd.DataFrame) -> None:
    assert list(clean.columns) == list(RAW_COLUMNS)
    assert isinstance(clean.index, pd.RangeIndex)
    assert clean.index.start == 0
    assert {c: str(t) for c, t in clean.dtypes.items()} == CLEAN_DTYPES
    assert clean["CUST_ID"].map(type).eq(str).all()


def _mixed_file(csv_builder, write_file: WriteFile) -> tuple[Path, str]:
    """CRLF file: a clean row, a blank line, a bad row of awkward text (line 4), a clean row."""
    records = csv_builder.records()
    bad = dict(records[1])
    bad.update(BALANCE='" 1,234.50"', PAYMENTS=" 900.0 ", CUST_ID=" T0009", TENURE="12 ")
    bad_line = csv_builder.line(bad)
    lines = csv_builder.lines(records[:2])
    text = "\r\n".join([*lines[:2], "", bad_line, lines[2]]) + "\r\n"
    return write_file(text), bad_line


def test_clean_frame_follows_the_contract(csv_builder, write_file: WriteFile) -> None:
    result = read_and_validate(write_file(csv_builder.text()))

    _assert_follows_clean_contract(result.clean)
    assert result.clean["CUST_ID"].tolist() == ["T0001", "T0002", "T0003", "T0004"]
    assert result.clean.loc[2, "TENURE"] == 6
    assert result.clean.loc[0, "BALANCE"] == 1000.5


def test_summary_names_the_source_and_its_sha256(csv_builder, write_file: WriteFile) -> None:
    path = write_file(csv_builder.text())

    summary = read_and_validate(path).summary

    assert summary.source == str(path)
    assert summary.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (summary.rows_in, summary.rows_clean, summary.rows_quarantined) == (4, 4, 0)
    assert set(summary.hard_rule_counts) == set(HARD_RULES)
    assert set(summary.soft_rule_counts) == set(SOFT_RULES)


def test_quarantined_row_keeps_its_original_text_and_line(csv_builder, write_file) -> None:
    path, bad_line = _mixed_file(csv_builder, write_file)

    result = read_and_validate(path)

    assert result.summary.rows_quarantined == 1
    row = result.quarantine.iloc[0]
    # Line 1 header, line 2 a clean row, line 3 blank, line 4 the bad row.
    assert row["line"] == 4
    assert row["reasons"] == "not_a_number:BALANCE"
    original_fields = next(csv.reader([bad_line]))
    assert [row[c] for c in RAW_COLUMNS] == original_fields
    assert row["BALANCE"] == " 1,234.50"
    assert row["CUST_ID"] == " T0009"


def test_quarantine_csv_has_original_columns_line_and_reasons(
    csv_builder, write_file: WriteFile, tmp_path: Path
) -> None:
    path, bad_line = _mixed_file(csv_builder, write_file)

    written = write_outputs(read_and_validate(path), tmp_path / "out")

    quarantine = pd.read_csv(written["quarantine"], dtype=str, keep_default_na=False)
    assert set(quarantine.columns) == {*RAW_COLUMNS, "line", "reasons"}
    assert len(quarantine) == 1
    assert quarantine.loc[0, "line"] == "4"
    assert quarantine.loc[0, "reasons"] == "not_a_number:BALANCE"
    assert [quarantine.loc[0, c] for c in RAW_COLUMNS] == next(csv.reader([bad_line]))


def test_validation_json_has_row_counts_and_counts_per_rule(
    csv_builder, write_file: WriteFile, tmp_path: Path
) -> None:
    path, _ = _mixed_file(csv_builder, write_file)
    result = read_and_validate(path)

    written = write_outputs(result, tmp_path / "out")

    report = json.loads(written["validation"].read_text())
    assert (report["rows_in"], report["rows_clean"], report["rows_quarantined"]) == (3, 2, 1)
    assert report["hard_rule_counts"] == dict.fromkeys(HARD_RULES, 0) | {"not_a_number": 1}
    assert report["soft_rule_counts"] == dict.fromkeys(SOFT_RULES, 0)
    assert report["sha256"] == result.summary.sha256


def test_clean_parquet_reads_back_with_the_contract_dtypes(
    csv_builder, write_file: WriteFile, tmp_path: Path
) -> None:
    records = csv_builder.with_cells(0, MINIMUM_PAYMENTS="", CREDIT_LIMIT="NaN")
    result = read_and_validate(write_file(csv_builder.text(records)))

    written = write_outputs(result, tmp_path / "out")

    clean = pd.read_parquet(written["clean"])
    _assert_follows_clean_contract(clean)
    pd.testing.assert_frame_equal(clean, result.clean)
    assert clean.loc[0, list(NULLABLE_COLUMNS)].isna().all()


def test_write_outputs_leaves_exactly_three_files(
    csv_builder, write_file: WriteFile, tmp_path: Path
) -> None:
    out = tmp_path / "nested" / "out"

    write_outputs(read_and_validate(write_file(csv_builder.text())), out)

    assert sorted(p.name for p in out.iterdir()) == [
        "clean.parquet",
        "quarantine.csv",
        "validation.json",
    ]


def test_empty_quarantine_still_writes_its_header(
    csv_builder, write_file: WriteFile, tmp_path: Path
) -> None:
    written = write_outputs(read_and_validate(write_file(csv_builder.text())), tmp_path / "out")

    quarantine = pd.read_csv(written["quarantine"], dtype=str)
    assert quarantine.empty
    assert set(quarantine.columns) == {*RAW_COLUMNS, "line", "reasons"}


def test_quarantine_keeps_the_text_of_extra_fields(csv_builder, write_file: WriteFile) -> None:
    lines = csv_builder.lines()
    lines[2] += ",SURPLUS-FIELD"

    result = read_and_validate(write_file("\n".join(lines) + "\n"))

    assert result.quarantine["reasons"].tolist() == ["field_count:expected 18"]
    cells = result.quarantine.drop(columns=["line", "reasons"]).iloc[0].astype(str)
    assert cells.str.contains("SURPLUS-FIELD").any()


def test_a_count_too_large_for_int64_never_reaches_the_clean_frame(
    csv_builder, write_file: WriteFile
) -> None:
    records = csv_builder.with_cells(0, PURCHASES_TRX="1e20")

    result = read_and_validate(write_file(csv_builder.text(records)))

    assert (result.clean[["CASH_ADVANCE_TRX", "PURCHASES_TRX", "TENURE"]] >= 0).all().all()
    assert result.quarantine["line"].tolist() == [2]


# The real CC GENERAL file: every figure below is from its README and the contract brief.


@pytest.fixture(scope="module")
def real_result(real_data_path: Path) -> IngestResult:
    return read_and_validate(real_data_path)


@pytest.mark.realdata
def test_real_file_is_entirely_clean(real_result: IngestResult) -> None:
    summary = real_result.summary

    assert (summary.rows_in, summary.rows_clean, summary.rows_quarantined) == (8_950, 8_950, 0)
    assert summary.hard_rule_counts == dict.fromkeys(HARD_RULES, 0)
    assert real_result.quarantine.empty
    assert summary.extra_columns == []


@pytest.mark.realdata
def test_real_file_soft_findings_match_the_contract(real_result: IngestResult) -> None:
    assert real_result.summary.soft_rule_counts == REAL_SOFT_COUNTS


@pytest.mark.realdata
def test_real_file_is_the_documented_copy(real_result: IngestResult) -> None:
    assert real_result.summary.sha256 == REAL_SHA256


@pytest.mark.realdata
def test_real_file_means_match_the_readme(real_result: IngestResult) -> None:
    means = real_result.clean[list(REAL_MEANS)].mean()

    for column, expected in REAL_MEANS.items():
        assert means[column] == pytest.approx(expected, abs=1e-6), column


@pytest.mark.realdata
def test_real_file_tenure_distribution_matches_the_readme(real_result: IngestResult) -> None:
    assert real_result.clean["TENURE"].value_counts().to_dict() == REAL_TENURE_COUNTS


@pytest.mark.realdata
def test_real_file_clean_frame_follows_the_contract(real_result: IngestResult) -> None:
    clean = real_result.clean

    _assert_follows_clean_contract(clean)
    assert clean["CUST_ID"].is_unique
    missing = clean[list(NUMERIC_COLUMNS)].isna().sum()
    assert missing[missing > 0].to_dict() == {"CREDIT_LIMIT": 1, "MINIMUM_PAYMENTS": 313}
    assert np.isfinite(clean[list(NUMERIC_COLUMNS)].fillna(0).to_numpy()).all()


@pytest.mark.realdata
def test_real_missing_minimum_payments_are_mostly_customers_who_paid_nothing(
    real_result: IngestResult,
) -> None:
    no_minimum = real_result.clean[real_result.clean["MINIMUM_PAYMENTS"].isna()]

    assert (no_minimum["PAYMENTS"] == 0).sum() == 240
    assert (no_minimum["PAYMENTS"] > 0).sum() == 73


def test_number_cells_read_as_if_each_were_stripped_first(tmp_path: Path) -> None:
    """Cells pandas parses as written and cells it needs stripped (a no-break space) agree."""
    from tasks.data.synthetic import generate_synthetic

    frame = generate_synthetic(6, 0)[0].astype(str)
    frame.loc[0, "BALANCE"] = " 12.5\u00a0"  # pandas' parser refuses the no-break space
    frame.loc[1, "BALANCE"] = "\t7 "
    frame.loc[2, "MINIMUM_PAYMENTS"] = " NA "
    frame.loc[3, "BALANCE"] = "12 abc"
    frame.loc[4, "PAYMENTS"] = " null"  # a missing value where none may be
    path = tmp_path / "cells.csv"
    frame.to_csv(path, index=False)

    result = read_and_validate(path)

    clean = result.clean.set_index("CUST_ID")
    ids = frame["CUST_ID"]
    assert clean.loc[ids[0], "BALANCE"] == 12.5
    assert clean.loc[ids[1], "BALANCE"] == 7.0
    assert np.isnan(clean.loc[ids[2], "MINIMUM_PAYMENTS"])
    reasons = dict(zip(result.quarantine["CUST_ID"], result.quarantine["reasons"], strict=True))
    assert reasons == {ids[3]: "not_a_number:BALANCE", ids[4]: "missing_value:PAYMENTS"}
