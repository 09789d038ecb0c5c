"""Segment profiles add up, point the right way, and migration counts reconcile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.profiling.profiles import TOP_DISTINGUISHING, profile_segments, segment_migration
from tasks.segmentation.features import engineer_features


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, list[str]]:
    clean, planted_labels = generate_synthetic(2000, seed=11)
    codes, names = pd.factorize(planted_labels, sort=True)
    return clean, engineer_features(clean), pd.Series(codes), list(names)


def test_segment_sizes_add_up_to_all_customers(planted):
    clean, features, labels, _ = planted
    profiles = profile_segments(clean, features, labels)
    assert profiles.sizes["n"].sum() == len(clean) == profiles.n_customers
    assert profiles.sizes["share"].sum() == pytest.approx(1.0)
    assert profiles.segments == sorted(labels.unique())


def test_portfolio_shares_of_each_amount_add_up_to_one(planted):
    clean, features, labels, _ = planted
    totals = profile_segments(clean, features, labels).totals
    assert np.allclose(totals.sum(), 1.0)


def test_medians_and_means_are_those_of_the_segment_members(planted):
    clean, features, labels, _ = planted
    profiles = profile_segments(clean, features, labels)
    members = clean[labels.to_numpy() == 2]
    assert profiles.raw_medians.at[2, "BALANCE"] == pytest.approx(members["BALANCE"].median())
    assert profiles.raw_means.at[2, "PAYMENTS"] == pytest.approx(members["PAYMENTS"].mean())
    member_features = features[labels.to_numpy() == 2]
    assert profiles.feature_medians.at[2, "utilisation"] == pytest.approx(
        member_features["utilisation"].median()
    )


def test_zscores_point_up_for_the_cash_advance_segment(planted):
    clean, features, labels, names = planted
    profiles = profile_segments(clean, features, labels)
    cash = names.index("cash_advance_heavy")
    assert profiles.feature_zscores.at[cash, "cash_advance_per_month"] > 0.5
    assert profiles.raw_zscores.at[cash, "CASH_ADVANCE"] > 0.5
    # Size-weighted z-scores of a column cancel out: segments are measured against their union.
    weighted = (profiles.feature_zscores.mul(profiles.sizes["share"], axis=0)).sum()
    assert np.allclose(weighted, 0.0, atol=1e-9)


def test_distinguishing_features_are_the_largest_absolute_zscores(planted):
    clean, features, labels, _ = planted
    profiles = profile_segments(clean, features, labels)
    for segment, top in profiles.distinguishing.items():
        assert len(top) == TOP_DISTINGUISHING
        magnitudes = [abs(d.zscore) for d in top]
        assert magnitudes == sorted(magnitudes, reverse=True)
        assert magnitudes[0] == pytest.approx(profiles.feature_zscores.loc[segment].abs().max())


def test_profiles_do_not_depend_on_row_order(planted):
    clean, features, labels, _ = planted
    order = np.random.default_rng(0).permutation(len(clean))
    shuffled = profile_segments(
        clean.iloc[order].reset_index(drop=True),
        features.iloc[order].reset_index(drop=True),
        labels.iloc[order],
    )
    original = profile_segments(clean, features, labels)
    pd.testing.assert_frame_equal(shuffled.sizes, original.sizes)
    pd.testing.assert_frame_equal(shuffled.feature_zscores, original.feature_zscores, atol=1e-9)


def test_misaligned_inputs_are_refused_with_the_row_counts(planted):
    clean, features, labels, _ = planted
    with pytest.raises(ValueError, match=r"2000 rows.*1999"):
        profile_segments(clean, features.iloc[:-1], labels)
    with pytest.raises(ValueError, match="CUST_ID"):
        profile_segments(clean, features.iloc[::-1].reset_index(drop=True), labels)


def test_migration_counts_reconcile_with_matched_customers():
    previous = pd.Series(
        ["A", "A", "B", "B", "C", "C"], index=["c1", "c2", "c3", "c4", "c5", "gone"]
    )
    current = pd.Series(["A", "B", "B", "B", "A", "C"], index=["c1", "c2", "c3", "c4", "c5", "new"])
    migration = segment_migration(previous, current)
    assert migration.matched == 5
    assert int(migration.crosstab.to_numpy().sum()) == migration.matched
    assert migration.stayed == 3  # c1 A->A, c3 B->B, c4 B->B
    assert migration.stayed_share == pytest.approx(3 / 5)
    assert migration.only_previous == 1 and migration.only_current == 1
    assert migration.crosstab.loc["A", "B"] == 1 and migration.crosstab.loc["C", "A"] == 1


def test_migration_refuses_a_customer_listed_twice():
    twice = pd.Series(["A", "B"], index=["c1", "c1"])
    with pytest.raises(ValueError, match="repeat a CUST_ID"):
        segment_migration(twice, pd.Series(["A"], index=["c1"]))


def test_each_column_is_summarised_by_one_statistic_mean_when_zero_heavy(planted):
    clean, features, labels, _ = planted
    profiles = profile_segments(clean, features, labels)
    members = features[labels.to_numpy() == 1]
    for column, statistic in profiles.feature_statistic.items():
        zero_heavy = (features[column] == 0).mean() >= 0.25
        assert statistic == ("mean" if zero_heavy else "median"), column
        expected = members[column].mean() if zero_heavy else members[column].median()
        assert profiles.feature_values.at[1, column] == pytest.approx(expected)
    assert profiles.feature_nonzero.at[1, "cash_advance_per_month"] == pytest.approx(
        (members["cash_advance_per_month"] > 0).mean()
    )
    for item in profiles.distinguishing[1]:
        assert item.statistic == profiles.feature_statistic[item.feature]
        assert item.segment_value == pytest.approx(profiles.feature_values.at[1, item.feature])
