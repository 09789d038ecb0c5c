"""Segment names come from behaviour rules: stable under shuffles and renumbering, always unique."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas.columns import AMOUNT_COLUMNS
from tasks.data.synthetic import generate_synthetic
from tasks.profiling.naming import (
    ARCHETYPES,
    FALLBACK,
    NOISE_NAME,
    name_segments,
    naming_rules_table,
    segment_trait_percentiles,
)
from tasks.profiling.traits import behaviour_traits

PLANTED_NAMES = {
    "transactor": "Full-paying transactors",
    "revolver": "Revolving balance carriers",
    "cash_advance_heavy": "Cash-advance revolvers",
    "installment_buyer": "Installment shoppers",
    "dormant": "Dormant low-activity",
}


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.Series, list[str]]:
    clean, planted_labels = generate_synthetic(3000, seed=7)
    codes, segment_names = pd.factorize(planted_labels, sort=True)
    return clean, pd.Series(codes), list(segment_names)


def _names(clean: pd.DataFrame, labels: pd.Series) -> dict[int, str]:
    return {s: n.name for s, n in name_segments(behaviour_traits(clean), labels).items()}


def test_planted_segments_get_the_name_of_their_behaviour(planted):
    clean, labels, planted_names = planted
    names = _names(clean, labels)
    assert {planted_names[s]: name for s, name in names.items()} == PLANTED_NAMES


def test_names_do_not_change_when_rows_are_shuffled(planted):
    clean, labels, _ = planted
    order = np.random.default_rng(3).permutation(len(clean))
    shuffled = _names(clean.iloc[order].reset_index(drop=True), labels.iloc[order])
    assert shuffled == _names(clean, labels)


def test_names_follow_the_segment_not_its_cluster_number(planted):
    clean, labels, _ = planted
    renumbering = {0: 4, 1: 2, 2: 0, 3: 1, 4: 3}
    renamed = _names(clean, labels.map(renumbering))
    original = _names(clean, labels)
    assert {old: renamed[new] for old, new in renumbering.items()} == original


def test_names_survive_a_change_of_currency_because_thresholds_are_percentiles(planted):
    clean, labels, _ = planted
    scaled = clean.copy()
    for column in AMOUNT_COLUMNS:
        scaled[column] = scaled[column] * 100.0
    assert _names(scaled, labels) == _names(clean, labels)


def test_two_segments_of_one_archetype_get_distinct_qualified_names(planted):
    clean, labels, planted_names = planted
    cash = planted_names.index("cash_advance_heavy")
    members = labels == cash
    high_balance = clean["BALANCE"] > clean.loc[members, "BALANCE"].median()
    split = labels.where(~(members & high_balance), 99)
    names = _names(clean, split)
    assert len(set(names.values())) == len(names)
    assert names[cash].startswith("Cash-advance revolvers, ")
    assert names[99].startswith("Cash-advance revolvers, ")
    higher, lower = names[99].split(", ")[1], names[cash].split(", ")[1]
    assert higher.startswith("higher ") and lower.startswith("lower ")
    assert higher.removeprefix("higher ") == lower.removeprefix("lower ")  # one trait


def test_segments_with_identical_profiles_still_get_unique_names():
    clean, _ = generate_synthetic(400, seed=1)
    doubled = pd.concat([clean, clean], ignore_index=True)
    labels = pd.Series([0] * len(clean) + [1] * len(clean))
    names = _names(doubled, labels)
    assert len(set(names.values())) == 2


def test_random_segments_without_a_distinct_behaviour_get_the_fallback_name():
    clean, _ = generate_synthetic(3000, seed=2)
    labels = pd.Series(np.random.default_rng(0).integers(0, 3, len(clean)))
    names = _names(clean, labels)
    assert all(name.startswith(FALLBACK.name) for name in names.values())
    assert len(set(names.values())) == 3


def test_noise_label_is_named_as_unclustered(planted):
    clean, labels, _ = planted
    with_noise = labels.copy()
    with_noise.iloc[:50] = -1
    assert _names(clean, with_noise)[-1] == NOISE_NAME


def test_trait_percentiles_lie_between_zero_and_one(planted):
    clean, labels, _ = planted
    table = segment_trait_percentiles(behaviour_traits(clean), labels)
    assert ((table >= 0) & (table <= 1)).all().all()
    assert list(table.index) == sorted(labels.unique())


def test_rules_table_documents_every_archetype_with_its_thresholds():
    rows = naming_rules_table()
    assert [r["name"] for r in rows] == [a.name for a in ARCHETYPES] + [FALLBACK.name]
    assert all(
        "% of customers" in r["conditions"] or "percentile" in r["conditions"] for r in rows[:-1]
    )
    assert "cash advance per month in the top 30% of customers" in rows[0]["conditions"]
    assert len({a.name for a in ARCHETYPES}) == len(ARCHETYPES)
