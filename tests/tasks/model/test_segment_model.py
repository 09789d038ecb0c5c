"""The shipped model: CC GENERAL rows in, one answer per customer out, and clear refusals."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import schemas.columns as contract_columns
import schemas.features as contract_features
from tasks.data.synthetic import generate_synthetic
from tasks.model import segment_model
from tasks.model.segment_model import (
    OUTPUT_COLUMNS,
    QUANTILE_LEVELS,
    SegmentModel,
    UnscorableRowError,
    check_rows,
)
from tasks.segmentation.fit import make_cell_pipeline
from tasks.segmentation.grid import GridCell

NAMES = {0: "Zero", 1: "One", 2: "Two", 3: "Three"}


def as_read_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a user gets it from `pandas.read_csv` of the same rows."""
    return pd.read_csv(io.StringIO(frame.to_csv(index=False)))


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    clean, _ = generate_synthetic(600, 21)
    return as_read_csv(clean)


def fitted(rows: pd.DataFrame, algorithm: str, k: int | None, **params) -> SegmentModel:
    cell = GridCell("behavioural_pca", algorithm, k, 0, tuple(sorted(params.items())))
    pipeline = make_cell_pipeline(cell).fit(rows)
    return SegmentModel(pipeline, dict(NAMES) | {-1: "Noise"}, json.dumps({"a": 1}))


@pytest.fixture(scope="module")
def kmeans(rows: pd.DataFrame) -> SegmentModel:
    return fitted(rows, "kmeans", 4, n_init=4, max_iter=300)


def test_the_shipped_copies_of_the_contract_match_the_contract() -> None:
    assert segment_model.CUST_ID == contract_columns.CUST_ID
    assert segment_model.NUMERIC_COLUMNS == contract_columns.NUMERIC_COLUMNS
    assert segment_model.COUNT_COLUMNS == contract_columns.COUNT_COLUMNS
    assert segment_model.OPTIONAL_COLUMNS == contract_columns.NULLABLE_COLUMNS
    assert segment_model.UTILISATION_CAP == contract_features.UTILISATION_CAP
    assert segment_model.PAYMENTS_TO_MINIMUM_CAP == contract_features.PAYMENTS_TO_MINIMUM_CAP


def test_predict_answers_one_row_per_customer_with_names_in_input_order(kmeans, rows) -> None:
    answer = kmeans.predict(rows)

    assert list(answer.columns) == list(OUTPUT_COLUMNS)
    assert answer["CUST_ID"].tolist() == rows["CUST_ID"].tolist()
    assert answer["segment"].dtype == np.int64
    assert answer["segment_name"].tolist() == [NAMES[s] for s in answer["segment"]]
    assert set(answer["segment"]) == set(NAMES)


def test_kmeans_distance_is_to_the_assigned_centre_and_there_is_no_probability(
    kmeans, rows
) -> None:
    answer = kmeans.predict(rows)
    to_centres = kmeans.pipeline[-1].transform(kmeans.embed(rows))

    assert np.allclose(answer["distance"], to_centres.min(axis=1))
    assert np.array_equal(answer["segment"], to_centres.argmin(axis=1))
    assert "probability" not in answer  # k-means gives distances, not probabilities


def test_gmm_answers_the_membership_probability_of_the_assigned_segment(rows) -> None:
    model = fitted(rows, "gmm", 4, covariance_type="diag", n_init=1, reg_covar=1e-6)
    answer = model.predict(rows)
    posterior = model.pipeline[-1].predict_proba(model.embed(rows))

    assert list(answer.columns) == [*OUTPUT_COLUMNS, "probability"]
    assert np.allclose(answer["probability"], posterior.max(axis=1))
    assert answer["distance"].notna().all()


def test_hdbscan_noise_keeps_its_name_and_the_distance_to_the_nearest_centre(rows) -> None:
    model = fitted(rows, "hdbscan", None, min_cluster_size=40, min_samples=None)
    answer = model.predict(rows)
    noise = answer["segment"] == -1
    nearest = model.pipeline[-1].transform(model.embed(rows)).min(axis=1)

    assert noise.any() and (~noise).any()
    assert (answer.loc[noise, "segment_name"] == "Noise").all()
    assert np.allclose(answer.loc[noise, "distance"], nearest[noise.to_numpy()])


def test_integer_counts_and_float_counts_give_the_same_answer(kmeans, rows) -> None:
    assert rows["TENURE"].dtype == np.int64
    floats = rows.astype({c: "float64" for c in ("TENURE", "PURCHASES_TRX", "CASH_ADVANCE_TRX")})

    pd.testing.assert_frame_equal(kmeans.predict(rows), kmeans.predict(floats))


def test_the_two_optional_columns_may_be_empty_or_absent(kmeans, rows) -> None:
    batch = rows.head(5).copy()
    batch.loc[0, "CREDIT_LIMIT"] = np.nan
    batch.loc[1, "MINIMUM_PAYMENTS"] = np.nan

    with_nan = kmeans.predict(batch)
    absent = kmeans.predict(batch.drop(columns=["CREDIT_LIMIT", "MINIMUM_PAYMENTS"]))

    assert with_nan["distance"].notna().all() and absent["distance"].notna().all()
    assert (
        with_nan.loc[2:, "segment"].tolist() == kmeans.predict(rows.head(5))["segment"][2:].tolist()
    )


def test_text_cells_that_hold_numbers_are_read_as_numbers(kmeans, rows) -> None:
    as_text = rows.head(4).astype(str)

    pd.testing.assert_frame_equal(kmeans.predict(as_text), kmeans.predict(rows.head(4)))


BAD_CELLS = {
    "text": ("BALANCE", "lots", "BALANCE is 'lots', not a number"),
    "empty required": ("PAYMENTS", np.nan, "PAYMENTS is empty; only CREDIT_LIMIT and"),
    "negative": ("PURCHASES", -5.0, "PURCHASES is -5; it cannot be negative"),
    "infinite": ("CASH_ADVANCE", np.inf, "CASH_ADVANCE is inf, not a finite number"),
    "zero tenure": ("TENURE", 0, "TENURE is 0; a tenure is at least 1 month"),
    "zero limit": ("CREDIT_LIMIT", 0.0, "CREDIT_LIMIT is 0; a credit limit is above 0"),
    "no customer id": ("CUST_ID", None, "CUST_ID is empty"),
    "blank customer id": ("CUST_ID", " \t ", "CUST_ID is empty"),
}


@pytest.mark.parametrize(("column", "value", "problem"), BAD_CELLS.values(), ids=BAD_CELLS)
def test_a_row_it_cannot_score_is_named_with_its_customer_and_column(
    kmeans, rows, column: str, value: object, problem: str
) -> None:
    batch = rows.head(4).astype({column: object})
    batch.loc[2, column] = value
    customer = repr(value) if column == "CUST_ID" else repr(rows.loc[2, "CUST_ID"])

    with pytest.raises(UnscorableRowError) as caught:
        kmeans.predict(batch)

    assert str(caught.value).startswith(f"cannot score row 2 (CUST_ID {customer}): {problem}")
    assert (caught.value.row, caught.value.column) == (2, column)
    assert "\n" not in str(caught.value)


def test_the_first_problem_is_named_and_the_rest_are_counted(kmeans, rows) -> None:
    batch = rows.head(5).copy()
    batch.loc[3, "TENURE"] = 0
    batch.loc[1, "BALANCE"] = -1.0
    batch.loc[4, "PAYMENTS"] = -2.0

    with pytest.raises(UnscorableRowError, match=r"^cannot score row 1 .*BALANCE is -1; .*") as e:
        kmeans.predict(batch)

    assert str(e.value).endswith("(2 more problem(s) in this batch)")


def test_a_missing_required_column_is_named(kmeans, rows) -> None:
    with pytest.raises(UnscorableRowError, match=r"^the input has no column\(s\) TENURE$"):
        kmeans.predict(rows.drop(columns=["TENURE"]))


def test_an_empty_batch_gets_an_empty_answer_with_every_column(kmeans, rows) -> None:
    answer = kmeans.predict(rows.head(0))

    assert list(answer.columns) == list(OUTPUT_COLUMNS) and answer.empty


def test_check_rows_keeps_the_index_and_returns_floats(rows) -> None:
    batch = rows.head(3).set_axis([10, 20, 30])

    checked = check_rows(batch)

    assert checked.index.tolist() == [10, 20, 30]
    assert (checked.drop(columns="CUST_ID").dtypes == np.float64).all()


def test_features_are_the_feature_sets_columns_before_log_scaling(kmeans, rows) -> None:
    plain = kmeans.features(rows)
    logged = kmeans.pipeline[0][0].transform(rows)

    assert list(plain.columns) == list(logged.columns)
    for column in kmeans.pipeline[0][0].log_columns:
        assert np.allclose(np.log1p(plain[column]), logged[column])
    assert kmeans.pipeline[0][0].log_columns  # the copy did not change the model itself


def test_describe_gives_reference_statistics_a_drift_check_can_compare(kmeans, rows) -> None:
    stats = kmeans.describe(rows)
    answer = kmeans.predict(rows)

    assert stats["rows"] == len(rows)
    assert stats["quantile_levels"] == list(QUANTILE_LEVELS)
    assert set(stats["inputs"]) == set(segment_model.NUMERIC_COLUMNS)
    assert set(stats["features"]) == set(kmeans.features(rows).columns)
    balance = stats["inputs"]["BALANCE"]
    assert balance["quantiles"] == pytest.approx(np.quantile(rows["BALANCE"], QUANTILE_LEVELS))
    assert stats["distance_p99"] == pytest.approx(np.quantile(answer["distance"], 0.99))
    shares = answer["segment"].value_counts(normalize=True)
    assert stats["segment_shares"] == {str(s): pytest.approx(v) for s, v in shares.items()}
    json.dumps(stats, allow_nan=False)  # JSON-ready: no NaN anywhere


def test_describe_counts_the_share_of_empty_optional_cells(kmeans, rows) -> None:
    batch = rows.head(10).copy()
    batch.loc[:3, "MINIMUM_PAYMENTS"] = np.nan

    stats = kmeans.describe(batch)

    assert stats["inputs"]["MINIMUM_PAYMENTS"]["missing_share"] == pytest.approx(0.4)
    assert stats["inputs"]["BALANCE"]["missing_share"] == 0.0


def test_the_card_is_read_from_its_json_text(kmeans) -> None:
    assert kmeans.card == {"a": 1}
