"""Every quirk is measured on the frame it is given; its handling comes from the feature notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.data.ingest import read_and_validate
from tasks.data.synthetic import generate_synthetic
from tasks.report.data_look import column_stats, far_outliers, look_at_data
from tasks.report.feature_notes import feature_notes


@pytest.fixture()
def planted_quirks() -> pd.DataFrame:
    """A synthetic frame cleaned of quirks, then given a known number of each."""
    clean, _ = generate_synthetic(400, seed=4)
    clean["MINIMUM_PAYMENTS"] = clean["MINIMUM_PAYMENTS"].fillna(1.0).clip(upper=1.0)
    clean["PAYMENTS"] = clean["PAYMENTS"].clip(lower=5.0)
    clean["CREDIT_LIMIT"] = clean["CREDIT_LIMIT"].fillna(1000.0)
    clean["BALANCE"] = np.minimum(clean["BALANCE"], clean["CREDIT_LIMIT"])
    clean["CASH_ADVANCE_FREQUENCY"] = clean["CASH_ADVANCE_FREQUENCY"].clip(upper=1.0)
    clean["PURCHASES"] = clean["ONEOFF_PURCHASES"] + clean["INSTALLMENTS_PURCHASES"]
    # 3 missing minimums: 2 with no payment at all, 1 with a payment.
    clean.loc[[0, 1], "PAYMENTS"] = 0.0
    clean.loc[[0, 1, 2], "MINIMUM_PAYMENTS"] = np.nan
    # 1 payment below the minimum (row 1 has a NaN minimum, so it does not count).
    clean.loc[3, ["PAYMENTS", "MINIMUM_PAYMENTS"]] = [5.0, 50.0]
    clean.loc[[4, 5], "CASH_ADVANCE_FREQUENCY"] = [1.25, 1.5]
    clean.loc[[6, 7, 8], "BALANCE"] = clean.loc[[6, 7, 8], "CREDIT_LIMIT"] * 2
    clean.loc[9, "PURCHASES"] = clean.loc[9, "PURCHASES"] + 600.0
    clean.loc[10, "CREDIT_LIMIT"] = np.nan
    return clean


def _quirk(look, key):
    return next(q for q in look.quirks if q.key == key)


def test_each_quirk_reports_the_count_planted_in_the_frame(planted_quirks):
    look = look_at_data(planted_quirks, [])
    assert _quirk(look, "minimum_missing").rows == 3
    assert "2 of them made no payment" in _quirk(look, "minimum_missing").finding
    assert _quirk(look, "below_minimum").rows == 1
    assert _quirk(look, "frequency_above_one").rows == 2
    assert "1.25-1.50" in _quirk(look, "frequency_above_one").finding
    assert _quirk(look, "over_limit").rows == 3
    assert "highest balance / limit 2.00" in _quirk(look, "over_limit").finding
    assert _quirk(look, "split_mismatch").rows == 1
    assert "largest gap 600.00" in _quirk(look, "split_mismatch").finding
    assert _quirk(look, "limit_missing").rows == 1


def test_tenure_quirk_counts_the_full_window_customers(planted_quirks):
    look = look_at_data(planted_quirks, [])
    full = int((planted_quirks["TENURE"] == 12).sum())
    assert f"{full:,} customers" in _quirk(look, "tenure").finding
    assert sum(look.tenure_counts.values()) == len(planted_quirks)


def test_handling_is_taken_from_matching_feature_notes_else_the_default(planted_quirks):
    notes = [
        "MINIMUM_PAYMENTS empty with PAYMENTS == 0 means no payment: set to 0.",
        "Amounts get log1p because of skew.",
    ]
    look = look_at_data(planted_quirks, notes)
    assert _quirk(look, "minimum_missing").handling == notes[0]
    assert _quirk(look, "skew").handling == notes[1]
    assert "soft finding" in _quirk(look, "over_limit").handling


def test_a_note_is_quoted_for_every_quirk_it_handles_and_only_those(planted_quirks):
    note = "Utilisation = BALANCE / CREDIT_LIMIT, capped at 1.5: the tail is real but long."
    look = look_at_data(planted_quirks, [note])
    assert _quirk(look, "over_limit").handling == note
    assert _quirk(look, "outliers").handling == note
    assert _quirk(look, "limit_missing").handling != note  # names CREDIT_LIMIT, not its gaps
    assert _quirk(look, "frequency_above_one").handling != note


def test_column_stats_measure_zero_shares_and_missing_values(planted_quirks):
    stats = column_stats(planted_quirks)
    expected = (planted_quirks["CASH_ADVANCE"] == 0).mean()
    assert stats.at["CASH_ADVANCE", "zero_share"] == pytest.approx(expected)
    assert stats.at["MINIMUM_PAYMENTS", "missing"] == 3
    assert stats.at["PURCHASES", "skewness"] == pytest.approx(planted_quirks["PURCHASES"].skew())


def test_far_outliers_ignore_zeros_and_count_values_beyond_three_iqrs():
    values = pd.Series([0.0] * 100 + [10.0, 11.0, 12.0, 13.0, 14.0, 1000.0])
    # Non-zero quartiles 11.25 and 13.75: the fence is 21.25, only 1000 is beyond it.
    assert far_outliers(values) == 1
    assert far_outliers(pd.Series([0.0, 0.0])) == 0


def test_each_quirk_quotes_the_pipeline_note_about_it_and_no_unrelated_one(planted_quirks):
    notes = feature_notes(planted_quirks)
    look = look_at_data(planted_quirks, notes)

    def quoted(key: str) -> list[str]:
        return [note for note in notes if note in _quirk(look, key).handling]

    skew_note = next(note for note in notes if note.startswith("Amounts are heavily skewed"))
    frequency_note = next(note for note in notes if note.startswith("Frequencies above 1"))
    assert quoted("skew")[0] == skew_note
    assert quoted("tenure") == [n for n in notes if "divided by TENURE" in n]
    assert quoted("transactions") == [n for n in notes if n.startswith("Ticket sizes")]
    assert skew_note not in quoted("below_minimum") + quoted("tenure")
    assert frequency_note not in quoted("outliers")


QUIRK_RULES = {
    "minimum_missing": "minimum_payments_missing",
    "limit_missing": "credit_limit_missing",
    "frequency_above_one": "frequency_above_one",
    "split_mismatch": "purchases_split_mismatch",
    "subfrequency": "subfrequency_above_purchases_frequency",
    "over_limit": "balance_over_limit",
    "below_minimum": "minimum_payment_above_payments",
    "transactions": "purchases_without_transactions",
}


def test_quirk_counts_equal_the_validation_counts_of_the_same_rules(tmp_path):
    frame, _ = generate_synthetic(600, seed=11)
    frame.loc[0, "PURCHASES"] += 0.5  # rounding: within the rule's tolerance
    frame.loc[1, "PURCHASES"] += 5.0  # beyond it
    path = tmp_path / "cc.csv"
    frame.to_csv(path, index=False)
    result = read_and_validate(path)
    look = look_at_data(result.clean, [])

    shown = {key: _quirk(look, key).rows for key in QUIRK_RULES}
    counted = {key: result.summary.soft_rule_counts[rule] for key, rule in QUIRK_RULES.items()}
    assert shown == counted
    assert counted["split_mismatch"] >= 1
