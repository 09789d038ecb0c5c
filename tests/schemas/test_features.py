"""The engineered-feature contract refuses what must never reach a model or a profile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.errors
import pytest

from schemas.features import EngineeredFeatures
from tasks.data.synthetic import generate_synthetic
from tasks.segmentation.features import engineer_features


@pytest.fixture(scope="module")
def valid() -> pd.DataFrame:
    clean, _ = generate_synthetic(50, 5)
    return engineer_features(clean)


def failing_columns(frame: pd.DataFrame) -> set[str]:
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        EngineeredFeatures.check(frame)
    return set(caught.value.failure_cases["column"].astype(str))


def test_a_frame_from_engineer_features_passes(valid: pd.DataFrame) -> None:
    assert EngineeredFeatures.check(valid.copy()).shape == valid.shape


def test_nan_is_refused(valid: pd.DataFrame) -> None:
    broken = valid.copy()
    broken.loc[3, "utilisation"] = np.nan
    assert "utilisation" in failing_columns(broken)


def test_infinity_is_refused(valid: pd.DataFrame) -> None:
    broken = valid.copy()
    broken.loc[4, "avg_purchase_ticket"] = np.inf  # an amount: no upper bound, so only "finite"
    with pytest.raises(pandera.errors.SchemaErrors, match="finite"):
        EngineeredFeatures.check(broken)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("oneoff_share", 1.01),
        ("cash_advance_frequency", 1.5),
        ("full_payment_share", -0.1),
        ("purchases_per_month", -1.0),
        ("utilisation", 1.6),
        ("payments_to_minimum", 51.0),
        ("credit_limit", 0.0),
        ("tenure", 13),
        ("minimum_payments_missing", 2),
    ],
)
def test_out_of_range_values_are_refused(valid: pd.DataFrame, column: str, value: float) -> None:
    broken = valid.copy()
    broken[column] = broken[column].astype(type(value))
    broken.loc[0, column] = value
    assert column in failing_columns(broken)


def test_extra_and_missing_columns_are_refused(valid: pd.DataFrame) -> None:
    with pytest.raises(pandera.errors.SchemaErrors, match="shoe_size"):
        EngineeredFeatures.check(valid.assign(shoe_size=1.0))
    with pytest.raises(pandera.errors.SchemaErrors, match="balance"):
        EngineeredFeatures.check(valid.drop(columns="balance"))


def test_duplicate_customer_ids_are_refused(valid: pd.DataFrame) -> None:
    broken = valid.copy()
    broken.loc[1, "CUST_ID"] = broken.loc[0, "CUST_ID"]
    assert "CUST_ID" in failing_columns(broken)


def test_whole_numbers_stored_as_floats_are_coerced(valid: pd.DataFrame) -> None:
    checked = EngineeredFeatures.check(valid.assign(tenure=valid["tenure"].astype(float)))
    assert checked["tenure"].dtype == np.int64
