"""Feature engineering: nulls by meaning, tenure normalisation, ratios, caps, feature sets."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from core.errors import ParameterError
from schemas.columns import CUST_ID, RAW_COLUMNS
from schemas.features import PAYMENTS_TO_MINIMUM_CAP, UTILISATION_CAP
from tasks.data.synthetic import generate_synthetic
from tasks.segmentation.features import (
    ENGINEERED_COLUMNS,
    FEATURE_FRAME_COLUMNS,
    FEATURE_SETS,
    FeatureEngineer,
    engineer_features,
    engineer_features_task,
    make_feature_pipeline,
)

BASE_ROW: dict[str, float] = {
    "BALANCE": 1000.0,
    "BALANCE_FREQUENCY": 1.0,
    "PURCHASES": 600.0,
    "ONEOFF_PURCHASES": 400.0,
    "INSTALLMENTS_PURCHASES": 200.0,
    "CASH_ADVANCE": 300.0,
    "PURCHASES_FREQUENCY": 0.5,
    "ONEOFF_PURCHASES_FREQUENCY": 0.25,
    "PURCHASES_INSTALLMENTS_FREQUENCY": 0.25,
    "CASH_ADVANCE_FREQUENCY": 0.25,
    "CASH_ADVANCE_TRX": 3,
    "PURCHASES_TRX": 12,
    "CREDIT_LIMIT": 4000.0,
    "PAYMENTS": 1200.0,
    "MINIMUM_PAYMENTS": 300.0,
    "PRC_FULL_PAYMENT": 0.0,
    "TENURE": 12,
}


def clean_frame(*rows: dict[str, float]) -> pd.DataFrame:
    """A clean-contract frame: each row is BASE_ROW with the given overrides."""
    records = [{CUST_ID: f"C{i:05d}", **BASE_ROW, **row} for i, row in enumerate(rows)]
    frame = pd.DataFrame(records)[list(RAW_COLUMNS)]
    for column in ("CASH_ADVANCE_TRX", "PURCHASES_TRX", "TENURE"):
        frame[column] = frame[column].astype("int64")
    return frame


def features_of(*rows: dict[str, float]) -> pd.DataFrame:
    return engineer_features(clean_frame(*rows))


def test_minimum_payments_is_zero_when_nothing_was_paid() -> None:
    features = features_of({}, {"PAYMENTS": 0.0, "MINIMUM_PAYMENTS": np.nan})
    assert features.loc[1, "minimum_payments_per_month"] == 0.0
    assert features.loc[1, "payments_to_minimum"] == 0.0


def test_minimum_payments_filled_from_median_of_the_balance_band_when_something_was_paid() -> None:
    low = [{"BALANCE": 10.0 + i, "MINIMUM_PAYMENTS": 50.0 + i} for i in range(10)]
    high = [{"BALANCE": 5000.0 + i, "MINIMUM_PAYMENTS": 900.0 + i} for i in range(10)]
    missing = [
        {"BALANCE": 12.0, "MINIMUM_PAYMENTS": np.nan, "PAYMENTS": 100.0},
        {"BALANCE": 5003.0, "MINIMUM_PAYMENTS": np.nan, "PAYMENTS": 100.0},
    ]
    engineer = FeatureEngineer().fit(clean_frame(*low, *high, *missing))
    filled = engineer.impute(clean_frame(*missing))["MINIMUM_PAYMENTS"]
    assert 50.0 <= filled[0] <= 59.0  # a low-balance customer gets a low-balance minimum
    assert 900.0 <= filled[1] <= 909.0


def test_missing_flags_mark_exactly_the_filled_rows() -> None:
    features = features_of(
        {}, {"MINIMUM_PAYMENTS": np.nan}, {"CREDIT_LIMIT": np.nan}, {"PAYMENTS": 0.0}
    )
    assert features["minimum_payments_missing"].tolist() == [0, 1, 0, 0]
    assert features["credit_limit_missing"].tolist() == [0, 0, 1, 0]


def test_credit_limit_filled_with_learned_median_but_never_below_the_balance() -> None:
    engineer = FeatureEngineer().fit(
        clean_frame({"CREDIT_LIMIT": 1000.0}, {"CREDIT_LIMIT": 3000.0}, {"CREDIT_LIMIT": 5000.0})
    )
    batch = clean_frame(
        {"CREDIT_LIMIT": np.nan, "BALANCE": 100.0}, {"CREDIT_LIMIT": np.nan, "BALANCE": 9000.0}
    )
    assert engineer.impute(batch)["CREDIT_LIMIT"].tolist() == [3000.0, 9000.0]


def test_imputation_is_learned_in_fit_and_reused_on_a_new_batch() -> None:
    engineer = FeatureEngineer().fit(clean_frame({"CREDIT_LIMIT": 2000.0}))
    alone = clean_frame({"CREDIT_LIMIT": np.nan, "BALANCE": 10.0})
    assert engineer.impute(alone)["CREDIT_LIMIT"].tolist() == [2000.0]


def test_flow_totals_are_divided_by_tenure_and_stocks_are_not() -> None:
    features = features_of({"TENURE": 6})
    row = features.loc[0]
    assert row["purchases_per_month"] == pytest.approx(600.0 / 6)
    assert row["cash_advance_per_month"] == pytest.approx(300.0 / 6)
    assert row["payments_per_month"] == pytest.approx(1200.0 / 6)
    assert row["minimum_payments_per_month"] == pytest.approx(300.0 / 6)
    assert row["purchases_trx_per_month"] == pytest.approx(12 / 6)
    assert row["balance"] == 1000.0
    assert row["credit_limit"] == 4000.0


def test_frequencies_above_one_are_capped_at_one() -> None:
    features = features_of({"CASH_ADVANCE_FREQUENCY": 1.5, "PURCHASES_FREQUENCY": 1.09})
    assert features.loc[0, "cash_advance_frequency"] == 1.0
    assert features.loc[0, "purchases_frequency"] == 1.0


def test_utilisation_and_payments_to_minimum_are_capped() -> None:
    features = features_of({"BALANCE": 40_000.0, "PAYMENTS": 9000.0, "MINIMUM_PAYMENTS": 0.02})
    assert features.loc[0, "utilisation"] == UTILISATION_CAP
    assert features.loc[0, "payments_to_minimum"] == PAYMENTS_TO_MINIMUM_CAP


def test_a_payment_against_a_zero_minimum_counts_as_far_above_the_minimum() -> None:
    features = features_of({"MINIMUM_PAYMENTS": 0.0, "PAYMENTS": 50.0})
    assert features.loc[0, "payments_to_minimum"] == PAYMENTS_TO_MINIMUM_CAP


def test_zero_denominators_give_zero_shares_and_tickets_not_nan() -> None:
    no_activity = {
        "PURCHASES": 0.0,
        "ONEOFF_PURCHASES": 0.0,
        "INSTALLMENTS_PURCHASES": 0.0,
        "CASH_ADVANCE": 0.0,
        "PURCHASES_TRX": 0,
        "CASH_ADVANCE_TRX": 0,
    }
    row = features_of(no_activity).loc[0]
    for column in ("oneoff_share", "installment_share", "cash_advance_share"):
        assert row[column] == 0.0, column
    assert row["avg_purchase_ticket"] == 0.0
    assert row["avg_cash_advance_ticket"] == 0.0


def test_purchases_without_a_counted_transaction_are_read_as_one_transaction() -> None:
    features = features_of({"PURCHASES": 80.0, "PURCHASES_TRX": 0})
    assert features.loc[0, "avg_purchase_ticket"] == 80.0


def test_purchase_mix_and_cash_reliance_are_shares_of_the_right_totals() -> None:
    row = features_of({}).loc[0]
    assert row["oneoff_share"] == pytest.approx(400 / 600)
    assert row["installment_share"] == pytest.approx(200 / 600)
    assert row["cash_advance_share"] == pytest.approx(300 / 900)
    assert row["utilisation"] == pytest.approx(1000 / 4000)
    assert row["payments_to_minimum"] == pytest.approx(4.0)
    assert row["avg_purchase_ticket"] == pytest.approx(50.0)
    assert row["avg_cash_advance_ticket"] == pytest.approx(100.0)


def test_purchase_split_uses_its_own_parts_when_purchases_disagree() -> None:
    row = features_of({"PURCHASES": 400.41, "ONEOFF_PURCHASES": 0.0}).loc[0]
    assert row["installment_share"] == 1.0


def test_engineered_frame_keeps_order_ids_and_documented_columns() -> None:
    clean, _ = generate_synthetic(300, 1)
    shuffled = clean.sample(frac=1.0, random_state=0).reset_index(drop=True)
    features = engineer_features(shuffled)
    assert tuple(features.columns) == FEATURE_FRAME_COLUMNS
    assert features[CUST_ID].tolist() == shuffled[CUST_ID].tolist()
    assert np.isfinite(features.drop(columns=CUST_ID).to_numpy(float)).all()


@pytest.mark.parametrize("name", sorted(FEATURE_SETS))
def test_every_feature_set_builds_and_yields_finite_standardised_output(name: str) -> None:
    clean, _ = generate_synthetic(400, 2)
    clean.loc[:9, "MINIMUM_PAYMENTS"] = np.nan  # the pipeline must cope with the nullable columns
    clean.loc[10, "CREDIT_LIMIT"] = np.nan
    space = make_feature_pipeline(name).fit_transform(clean)
    assert space.shape[0] == len(clean)
    assert np.isfinite(space).all()
    if FEATURE_SETS[name].pca_variance is None:
        assert np.allclose(space.mean(axis=0), 0.0, atol=1e-9)


def test_every_feature_set_says_why_it_exists() -> None:
    assert {"raw_scaled", "log_scaled", "behavioural", "behavioural_pca"} <= set(FEATURE_SETS)
    for spec in FEATURE_SETS.values():
        assert spec.why and "\n" not in spec.why


def test_unknown_feature_set_is_a_parameter_error_naming_the_allowed_ones() -> None:
    with pytest.raises(ParameterError, match=r"unknown feature set 'nope'.*log_scaled"):
        make_feature_pipeline("nope")


def test_pca_set_keeps_at_least_ninety_percent_of_the_variance() -> None:
    clean, _ = generate_synthetic(500, 3)
    pipeline = make_feature_pipeline("behavioural_pca").fit(clean)
    pca = pipeline[-1]
    assert pca.explained_variance_ratio_.sum() >= 0.90
    assert pca.n_components_ < len(FEATURE_SETS["behavioural_pca"].columns)


def test_log_columns_enter_the_model_through_log1p() -> None:
    spec = FEATURE_SETS["log_scaled"]
    clean = clean_frame({}, {"PURCHASES": 1200.0})
    plain = FeatureEngineer(spec.columns).fit_transform(clean)
    logged = FeatureEngineer(spec.columns, spec.log_columns).fit_transform(clean)
    assert np.allclose(logged["purchases_per_month"], np.log1p(plain["purchases_per_month"]))
    assert logged["purchases_frequency"].equals(plain["purchases_frequency"])


def test_raw_columns_can_be_selected_imputed() -> None:
    spec = FEATURE_SETS["raw_scaled"]
    out = FeatureEngineer(spec.columns).fit_transform(clean_frame({}, {"CREDIT_LIMIT": np.nan}))
    assert out["CREDIT_LIMIT"].notna().all()
    assert list(out.columns) == list(spec.columns)


def test_feature_pipeline_pickles_and_transforms_identically() -> None:
    clean, _ = generate_synthetic(200, 4)
    pipeline = make_feature_pipeline("behavioural_pca").fit(clean)
    restored = pickle.loads(pickle.dumps(pipeline))
    assert np.array_equal(restored.transform(clean), pipeline.transform(clean))


def test_missing_input_column_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="missing: PAYMENTS"):
        FeatureEngineer().fit(clean_frame({}).drop(columns="PAYMENTS"))


def test_unknown_feature_column_is_refused_at_fit() -> None:
    with pytest.raises(ValueError, match="unknown feature column"):
        FeatureEngineer(("balance", "shoe_size")).fit(clean_frame({}))


def test_feature_task_function_engineers_every_column() -> None:
    clean = clean_frame({}, {})
    features = engineer_features_task.fn(clean)
    assert len(features) == 2
    assert set(ENGINEERED_COLUMNS) <= set(features.columns)


@pytest.mark.realdata
def test_real_data_features_validate_with_no_nan_or_inf(real_data_path) -> None:
    clean = pd.read_csv(real_data_path)  # the real file breaks no hard rule: it is clean as read
    features = engineer_features(clean)
    assert len(features) == 8_950
    assert np.isfinite(features.drop(columns=CUST_ID).to_numpy(float)).all()
    assert int(features["minimum_payments_missing"].sum()) == 313
    for name in FEATURE_SETS:
        assert np.isfinite(make_feature_pipeline(name).fit_transform(clean)).all(), name
