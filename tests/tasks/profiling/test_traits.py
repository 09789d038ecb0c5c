"""Behaviour traits are per month of tenure, undefined (NaN) where a ratio has no denominator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.profiling.traits import (
    behaviour_traits,
    format_trait,
    population_percentile,
    population_percentiles,
)


def test_amounts_are_divided_by_tenure_and_frequencies_capped_at_one():
    clean, _ = generate_synthetic(50, seed=0)
    clean.loc[0, ["PURCHASES", "TENURE", "CASH_ADVANCE_FREQUENCY"]] = [1200.0, 6, 1.25]
    traits = behaviour_traits(clean)
    assert traits.at[0, "purchases_per_month"] == pytest.approx(200.0)
    assert traits.at[0, "cash_advance_frequency"] == 1.0


def test_ratios_without_a_denominator_are_undefined_not_zero():
    clean, _ = generate_synthetic(50, seed=0)
    clean.loc[0, ["PURCHASES", "ONEOFF_PURCHASES", "INSTALLMENTS_PURCHASES"]] = 0.0
    clean.loc[1, "CREDIT_LIMIT"] = np.nan
    clean.loc[2, "MINIMUM_PAYMENTS"] = np.nan
    traits = behaviour_traits(clean)
    assert np.isnan(traits.at[0, "installment_share"])
    assert np.isnan(traits.at[1, "utilisation"])
    assert np.isnan(traits.at[2, "payments_to_minimum"])


def test_mid_rank_percentile_puts_a_tie_block_in_its_middle():
    population = pd.Series([0.0] * 50 + list(range(1, 51)) + [np.nan])
    assert population_percentile(population, 0.0) == pytest.approx(0.25)
    assert population_percentile(population, 1000.0) == 1.0
    assert population_percentile(population, -1.0) == 0.0


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("balance", 1234.6, "1,235"),
        ("utilisation", 0.456, "0.46"),
        ("payments_to_minimum", 2.34, "2.3x"),
    ],
)
def test_trait_values_are_formatted_for_a_business_reader(key, value, text):
    assert format_trait(key, value) == text
    assert format_trait(key, float("nan")) == "n/a"


def test_a_zero_heavy_value_is_written_as_a_mean_with_its_share_above_zero():
    from tasks.profiling.traits import describe_value, statistics

    frame = pd.DataFrame({"full_payment_share": [0.0, 0.0, 0.0, 1.0], "balance": [1.0, 2, 3, 4]})
    assert statistics(frame) == {"full_payment_share": "mean", "balance": "median"}
    assert describe_value("full_payment_share", 0.25, "mean", 0.25) == "0.25 mean, 25% above 0"
    assert describe_value("balance", 2.5, "median", 1.0) == "2"
    assert describe_value("purchases_trx_per_month", 2.34, "median", 1.0) == "2.3"


def test_percentiles_of_several_values_match_one_at_a_time():
    population = pd.Series([0.0, 0.0, 0.0, 5.0, 7.0, np.nan, 9.0])
    values = [0.0, 6.0, 9.0, -1.0, 100.0, float("nan")]
    assert population_percentiles(population, values) == [
        population_percentile(population, v) for v in values
    ]
    assert population_percentiles(population, [0.0]) == [pytest.approx(0.25)]
