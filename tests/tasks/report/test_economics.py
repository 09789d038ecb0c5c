"""Money per segment: each line is its assumption times its amount, and the parts add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.settings import EconomicsSettings
from tasks.data.synthetic import generate_synthetic
from tasks.report.economics import (
    customer_lines,
    money,
    money_range,
    segment_economics,
    share_range,
)


def _customer(**values: float) -> dict[str, float]:
    base = {
        "BALANCE": 1000.0,
        "CREDIT_LIMIT": 2000.0,
        "PURCHASES": 600.0,
        "CASH_ADVANCE": 300.0,
        "PRC_FULL_PAYMENT": 0.25,
        "TENURE": 6,
        "PAYMENTS": 500.0,
        "MINIMUM_PAYMENTS": 100.0,
    }
    return base | values


SETTINGS = EconomicsSettings(
    interchange_rate_low=0.01,
    interchange_rate_high=0.02,
    purchase_apr_low=0.1,
    purchase_apr_high=0.2,
    cash_advance_fee_low=0.03,
    cash_advance_fee_high=0.05,
    stress_loss_rate_low=0.1,
    stress_loss_rate_high=0.3,
)


def test_each_line_is_its_rate_times_its_yearly_amount():
    lines = customer_lines(pd.DataFrame([_customer()]), SETTINGS).iloc[0]
    assert lines["interchange_low"] == pytest.approx(600 / 6 * 12 * 0.01)
    assert lines["interest_high"] == pytest.approx(1000 * (1 - 0.25) * 0.2)
    assert lines["fees_low"] == pytest.approx(300 / 6 * 12 * 0.03)
    assert lines["revenue_high"] == pytest.approx(24 + 150 + 30)
    assert not lines["stressed"] and lines["stress_loss_high"] == 0


def test_a_full_payer_pays_no_interest_and_stress_comes_from_either_signal():
    frame = pd.DataFrame(
        [
            _customer(PRC_FULL_PAYMENT=1.0),
            _customer(PAYMENTS=50.0),  # less than the minimum of 100
            _customer(BALANCE=1900.0),  # utilisation 0.95
        ]
    )
    lines = customer_lines(frame, SETTINGS)
    assert lines.at[0, "interest_low"] == 0
    assert lines["below_minimum"].tolist() == [False, True, False]
    assert lines["high_utilisation"].tolist() == [False, False, True]
    assert lines.at[2, "stress_loss_low"] == pytest.approx(1900 * 0.1)


def test_segments_add_up_to_the_portfolio_and_low_never_exceeds_high():
    clean, planted = generate_synthetic(800, seed=2)
    labels = pd.factorize(planted)[0]
    economics = segment_economics(clean, labels, EconomicsSettings())
    by = economics.by_group
    for column in ("revenue_low", "revenue_high", "stressed_balance", "customers"):
        assert by[column].sum() == pytest.approx(economics.portfolio[column])
    assert by["revenue_share_low"].sum() == pytest.approx(1.0)
    assert (by["revenue_low"] <= by["revenue_high"]).all()
    assert (by["net_low"] <= by["net_high"]).all()
    assert sorted(by.index) == sorted(np.unique(labels))


def test_assumptions_from_the_environment_change_the_money(monkeypatch):
    clean, _ = generate_synthetic(200, seed=1)
    default = customer_lines(clean, EconomicsSettings())["interest_high"].sum()
    monkeypatch.setenv("CCSEG_ECONOMICS_PURCHASE_APR_HIGH", "0.5")
    assert customer_lines(clean, EconomicsSettings())["interest_high"].sum() == pytest.approx(
        default * 0.5 / 0.25
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2_460_000, "2.46 M"),
        (412_345, "412 k"),
        (5_600, "5.6 k"),
        (789.4, "789"),
        (-1500, "-1.5 k"),
    ],
)
def test_money_is_written_short(value, text):
    assert money(value) == text


def test_ranges_read_low_to_high_and_collapse_when_equal():
    assert money_range(1e6, 2e6) == "1.00 M to 2.00 M"
    assert share_range(0.32, 0.30) == "30% to 32%"
    assert share_range(0.301, 0.304) == "30%"
