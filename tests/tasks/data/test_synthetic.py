"""Tests for the synthetic CC GENERAL generator: contract, realism, recoverability, file output."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from core.errors import ParameterError
from schemas.columns import (
    AMOUNT_COLUMNS,
    COUNT_COLUMNS,
    CUST_ID,
    FREQUENCY_COLUMNS,
    NULLABLE_COLUMNS,
    NUMERIC_COLUMNS,
    RAW_COLUMNS,
)
from schemas.raw import ARROW_TEXT, HARD_SCHEMA
from tasks.data.ingest import read_and_validate
from tasks.data.synthetic import (
    SEGMENT_PARAMETERS,
    SEGMENTS,
    generate_synthetic,
    write_synthetic,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
ROWS = 20_000


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, pd.Series]:
    return generate_synthetic(ROWS, seed=0)


@pytest.fixture(scope="module")
def frame(synthetic: tuple[pd.DataFrame, pd.Series]) -> pd.DataFrame:
    return synthetic[0]


@pytest.fixture(scope="module")
def real_frame() -> pd.DataFrame:
    path = Path(os.environ.get("CCSEG_DATA_PATH", "../shared/data/cc_general.csv"))
    path = path if path.is_absolute() else REPO_ROOT / path
    if not path.is_file():
        pytest.skip(f"real CC GENERAL file not found at {path} (set CCSEG_DATA_PATH)")
    return pd.read_csv(path)


def _recovery_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The brief's simple check: log1p of amounts per month of tenure, plus capped frequencies."""
    amounts = frame[list(AMOUNT_COLUMNS)].copy()
    # No minimum recorded mostly means nothing was paid; a missing limit takes the typical one.
    amounts["MINIMUM_PAYMENTS"] = amounts["MINIMUM_PAYMENTS"].fillna(0.0)
    amounts["CREDIT_LIMIT"] = amounts["CREDIT_LIMIT"].fillna(amounts["CREDIT_LIMIT"].median())
    per_month = np.log1p(amounts.div(frame["TENURE"], axis=0))
    shares = frame[[*FREQUENCY_COLUMNS, "PRC_FULL_PAYMENT"]].clip(upper=1.0)
    return pd.concat([per_month, shares], axis=1)


# --- determinism and contract ------------------------------------------------------------------


def test_same_seed_gives_identical_frame_and_labels() -> None:
    first_frame, first_labels = generate_synthetic(2_000, seed=7)
    second_frame, second_labels = generate_synthetic(2_000, seed=7)
    pd.testing.assert_frame_equal(first_frame, second_frame)
    pd.testing.assert_series_equal(first_labels, second_labels)


def test_different_seeds_give_different_data() -> None:
    first, first_labels = generate_synthetic(2_000, seed=1)
    second, second_labels = generate_synthetic(2_000, seed=2)
    assert not first[list(NUMERIC_COLUMNS)].equals(second[list(NUMERIC_COLUMNS)])
    assert not first_labels.equals(second_labels)


def test_frame_has_clean_contract_columns_dtypes_and_index(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(RAW_COLUMNS)
    assert isinstance(frame.index, pd.RangeIndex)
    assert frame.index.equals(pd.RangeIndex(ROWS))
    assert frame[CUST_ID].dtype == object
    assert frame[CUST_ID].map(type).eq(str).all()
    for column in NUMERIC_COLUMNS:
        expected = "int64" if column in COUNT_COLUMNS else "float64"
        assert frame[column].dtype == expected, column


def test_labels_are_named_segment_aligned_and_from_segments(
    synthetic: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, labels = synthetic
    assert labels.name == "segment"
    assert labels.index.equals(frame.index)
    assert set(labels.unique()) == set(SEGMENTS)


def test_single_row_is_a_valid_frame() -> None:
    frame, labels = generate_synthetic(1, seed=0)
    assert frame.shape == (1, len(RAW_COLUMNS))
    assert len(labels) == 1


def test_segment_parameters_give_one_value_per_segment_and_shares_sum_to_one() -> None:
    assert all(len(values) == len(SEGMENTS) for values in SEGMENT_PARAMETERS.values())
    assert sum(SEGMENT_PARAMETERS["share"]) == pytest.approx(1.0)


def test_segment_shares_are_unequal_and_between_10_and_35_percent(
    synthetic: tuple[pd.DataFrame, pd.Series],
) -> None:
    shares = synthetic[1].value_counts(normalize=True)
    assert shares.between(0.10, 0.35).all(), shares.to_dict()
    assert shares.max() - shares.min() > 0.05


# --- hard rules and internal consistency -------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_row_passes_the_hard_rules(seed: int) -> None:
    frame, _ = generate_synthetic(ROWS, seed=seed)
    # The hard schema judges the typed frame: counts before they are narrowed to integers, ids
    # as Arrow text.
    typed = frame.astype(dict.fromkeys(COUNT_COLUMNS, "float64") | {CUST_ID: ARROW_TEXT})
    HARD_SCHEMA.validate(typed, lazy=True)
    numbers = frame[list(NUMERIC_COLUMNS)]
    assert np.isfinite(numbers.drop(columns=list(NULLABLE_COLUMNS))).all().all()
    assert numbers.drop(columns=list(NULLABLE_COLUMNS)).notna().all().all()


def test_customer_ids_are_unique_and_never_look_like_real_ones(frame: pd.DataFrame) -> None:
    ids = frame[CUST_ID]
    assert ids.is_unique
    assert ids.str.fullmatch(r"S\d{7}").all()
    assert not ids.str.match(r"C1\d{4}").any()


def test_frequencies_are_whole_months_over_tenure_within_zero_and_one(frame: pd.DataFrame) -> None:
    tenure = frame["TENURE"]
    for column in FREQUENCY_COLUMNS[1:]:
        months = frame[column] * tenure
        assert frame[column].between(0, 1).all(), column
        assert np.allclose(months, months.round(), atol=1e-4), column
    assert frame["BALANCE_FREQUENCY"].between(0, 1).all()
    assert frame["PRC_FULL_PAYMENT"].between(0, 1).all()


def test_counts_cover_active_months_except_rare_posting_quirks(frame: pd.DataFrame) -> None:
    tenure = frame["TENURE"]
    cash_months = (frame["CASH_ADVANCE_FREQUENCY"] * tenure).round()
    assert (frame["CASH_ADVANCE_TRX"] >= cash_months).all()
    assert ((frame["CASH_ADVANCE"] > 0) == (frame["CASH_ADVANCE_TRX"] > 0)).all()
    purchase_months = (frame["PURCHASES_FREQUENCY"] * tenure).round()
    covered = frame["PURCHASES_TRX"] >= purchase_months
    assert covered.mean() > 0.999


def test_purchases_equal_their_split_except_a_small_share(frame: pd.DataFrame) -> None:
    gap = frame["PURCHASES"] - frame["ONEOFF_PURCHASES"] - frame["INSTALLMENTS_PURCHASES"]
    mismatched = gap.abs() > 1.0
    assert 0 < mismatched.mean() < 0.01
    assert (gap[~mismatched].abs() < 0.011).all()


def test_minimum_payments_missing_mostly_where_nothing_was_paid(frame: pd.DataFrame) -> None:
    missing = frame["MINIMUM_PAYMENTS"].isna()
    paid_nothing = frame["PAYMENTS"] == 0
    assert missing[paid_nothing].all()
    assert paid_nothing[missing].mean() > 0.7
    assert 0 < (missing & ~paid_nothing).mean() < 0.01
    assert (frame.loc[paid_nothing, "PRC_FULL_PAYMENT"] == 0).all()


def test_credit_limit_missing_is_very_rare() -> None:
    frame, _ = generate_synthetic(100_000, seed=3)
    missing = frame["CREDIT_LIMIT"].isna().mean()
    assert 0 < missing < 0.001


def test_soft_findings_are_sprinkled_but_rare(frame: pd.DataFrame) -> None:
    over_limit = (frame["BALANCE"] > frame["CREDIT_LIMIT"]).mean()
    below_minimum = (frame["MINIMUM_PAYMENTS"] > frame["PAYMENTS"]).mean()
    subfrequency = (
        frame[["ONEOFF_PURCHASES_FREQUENCY", "PURCHASES_INSTALLMENTS_FREQUENCY"]].max(axis=1)
        > frame["PURCHASES_FREQUENCY"] + 1e-6
    ).mean()
    assert 0.005 < over_limit < 0.06
    assert 0.1 < below_minimum < 0.4
    assert 0 < subfrequency < 0.01


def test_tenure_follows_the_real_files_distribution(frame: pd.DataFrame) -> None:
    # The real file's counts per tenure month (its README), out of 8,950 rows.
    real = pd.Series({6: 204, 7: 190, 8: 196, 9: 175, 10: 236, 11: 365, 12: 7584}) / 8950
    synthetic = frame["TENURE"].value_counts(normalize=True).reindex(real.index, fill_value=0)
    assert (synthetic - real).abs().max() < 0.01
    assert set(frame["TENURE"].unique()) <= set(real.index)


# --- realism against the real file -------------------------------------------------------------


@pytest.mark.realdata
def test_zero_shares_resemble_the_real_file(frame: pd.DataFrame, real_frame: pd.DataFrame) -> None:
    columns = list(NUMERIC_COLUMNS)
    real_zero = (real_frame[columns] == 0).mean()
    synthetic_zero = (frame[columns] == 0).mean()
    gap = (synthetic_zero - real_zero).abs()
    assert gap.max() < 0.08, gap.sort_values().tail(3).to_dict()


@pytest.mark.realdata
def test_null_shares_resemble_the_real_file(frame: pd.DataFrame, real_frame: pd.DataFrame) -> None:
    real_null = real_frame[list(NUMERIC_COLUMNS)].isna().mean()
    synthetic_null = frame[list(NUMERIC_COLUMNS)].isna().mean()
    assert synthetic_null.drop(list(NULLABLE_COLUMNS)).eq(0).all()
    assert abs(synthetic_null["MINIMUM_PAYMENTS"] - real_null["MINIMUM_PAYMENTS"]) < 0.02
    assert synthetic_null["CREDIT_LIMIT"] < 0.002


@pytest.mark.realdata
def test_amounts_are_right_skewed_with_real_typical_levels(
    frame: pd.DataFrame, real_frame: pd.DataFrame
) -> None:
    for column in AMOUNT_COLUMNS:
        real, synthetic = real_frame[column], frame[column]
        assert synthetic.skew() > 1.5, column
        assert synthetic.mean() > synthetic.median(), column
        # Typical size of a non-zero amount, within a factor of two of the real one.
        ratio = synthetic[synthetic > 0].median() / real[real > 0].median()
        assert 0.5 < ratio < 2.0, (column, ratio)


@pytest.mark.realdata
def test_columns_that_move_together_in_the_real_file_move_together(
    frame: pd.DataFrame, real_frame: pd.DataFrame
) -> None:
    columns = list(NUMERIC_COLUMNS)
    real = real_frame[columns].corr(method="spearman")
    synthetic = frame[columns].corr(method="spearman")
    strong = real.abs().ge(0.5) & ~np.eye(len(columns), dtype=bool)
    assert strong.to_numpy().sum() >= 20
    assert (np.sign(real[strong]) == np.sign(synthetic[strong]))[strong].all().all()
    assert ((real - synthetic).abs()[strong].max().max()) < 0.3


# --- recoverability ----------------------------------------------------------------------------


def test_planted_segments_are_recovered_by_a_simple_kmeans() -> None:
    frame, labels = generate_synthetic(5_000, seed=0)
    scaled = StandardScaler().fit_transform(_recovery_features(frame))
    found = KMeans(n_clusters=len(SEGMENTS), n_init=10, random_state=0).fit_predict(scaled)
    assert adjusted_rand_score(labels, found) >= 0.95


# --- file output -------------------------------------------------------------------------------


def test_written_csv_reads_back_to_the_same_frame_and_labels(tmp_path: Path) -> None:
    out, labels_out = tmp_path / "synthetic.csv", tmp_path / "labels.csv"
    assert write_synthetic(3_000, 5, out, labels_out) == out
    frame, labels = generate_synthetic(3_000, seed=5)
    pd.testing.assert_frame_equal(pd.read_csv(out), frame)
    written_labels = pd.read_csv(labels_out)
    assert list(written_labels.columns) == [CUST_ID, "segment"]
    assert written_labels[CUST_ID].equals(frame[CUST_ID])
    assert written_labels["segment"].equals(labels.astype(object))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "synthetic.csv"]


def test_written_csv_looks_like_the_real_file(tmp_path: Path) -> None:
    out = write_synthetic(20_000, 0, tmp_path / "synthetic.csv")
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(RAW_COLUMNS)
    assert len(lines) == 20_001
    body = "\n".join(lines[1:])
    assert '"' not in body
    # Plain decimals only: no scientific notation, and a missing value is an empty cell.
    assert not re.search(r"\d[eE][+-]?\d", body)
    assert not re.search(r"nan|None", body, flags=re.IGNORECASE)
    assert re.search(r",,", body)


def test_written_csv_passes_ingest_with_nothing_quarantined(tmp_path: Path) -> None:
    out = write_synthetic(5_000, 11, tmp_path / "synthetic.csv")
    result = read_and_validate(out)
    assert result.summary.rows_quarantined == 0
    pd.testing.assert_frame_equal(result.clean, generate_synthetic(5_000, seed=11)[0])


def test_write_creates_missing_folders(tmp_path: Path) -> None:
    out = write_synthetic(10, 0, tmp_path / "new" / "deeper" / "synthetic.csv")
    assert out.is_file()


# --- bad arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [0, -5, 2.5, True, "100", None])
def test_invalid_row_count_raises_parameter_error(rows: object) -> None:
    with pytest.raises(ParameterError, match="rows must be"):
        generate_synthetic(rows, seed=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_invalid_seed_raises_parameter_error(seed: object) -> None:
    with pytest.raises(ParameterError, match="seed must be"):
        generate_synthetic(10, seed=seed)  # type: ignore[arg-type]


def test_write_with_invalid_rows_raises_before_touching_disk(tmp_path: Path) -> None:
    out = tmp_path / "new" / "synthetic.csv"
    with pytest.raises(ParameterError, match="rows must be"):
        write_synthetic(0, 0, out)
    assert not out.parent.exists()


def test_output_path_that_is_a_folder_raises_parameter_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="is a folder"):
        write_synthetic(10, 0, tmp_path)


def test_output_under_a_file_raises_parameter_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(ParameterError, match="cannot create the folder"):
        write_synthetic(10, 0, blocker / "synthetic.csv")


def test_labels_on_the_output_path_raise_parameter_error(tmp_path: Path) -> None:
    out = tmp_path / "synthetic.csv"
    with pytest.raises(ParameterError, match="same file"):
        write_synthetic(10, 0, out, tmp_path / "." / "synthetic.csv")
    assert not out.exists()
