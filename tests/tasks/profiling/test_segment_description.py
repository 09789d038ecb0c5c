"""The description computed before promotion: the report's own names, and a JSON-ready card."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.profiling.naming import name_segments
from tasks.profiling.segment_description import (
    describe,
    names_from_traits,
    profiled_positions,
)
from tasks.profiling.traits import behaviour_traits
from tasks.segmentation.features import engineer_features


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    clean, planted_labels = generate_synthetic(1500, seed=3)
    codes, _ = pd.factorize(planted_labels, sort=True)
    return clean, engineer_features(clean), codes.astype(np.int64)


def test_names_are_the_ones_the_naming_rules_give_for_these_segments(planted) -> None:
    clean, features, labels = planted

    description = describe(clean, features, labels)

    expected = name_segments(behaviour_traits(clean), pd.Series(labels))
    assert description.segment_names() == {s: n.name for s, n in expected.items()}
    assert len(set(description.segment_names().values())) == len(np.unique(labels))


def test_the_card_segments_carry_name_size_and_profile_as_json(planted) -> None:
    clean, features, labels = planted

    segments = describe(clean, features, labels).card_segments()

    assert set(segments) == {str(s) for s in np.unique(labels)}
    assert sum(entry["customers"] for entry in segments.values()) == len(clean)
    assert sum(entry["share"] for entry in segments.values()) == pytest.approx(1.0)
    first = segments["0"]
    members = features[labels == 0]
    assert first["feature_medians"]["utilisation"] == pytest.approx(members["utilisation"].median())
    assert set(first) == {
        "name",
        "archetype",
        "qualifier",
        "customers",
        "share",
        "trait_percentiles",
        "feature_medians",
        "portfolio_shares",
    }
    json.dumps(segments, allow_nan=False)


def test_an_undefined_trait_percentile_becomes_null_not_nan(planted) -> None:
    clean, features, labels = planted
    description = describe(clean, features, labels)
    entry = description.names[0]
    entry.percentiles["utilisation"] = float("nan")

    segments = description.card_segments()

    assert segments["0"]["trait_percentiles"]["utilisation"] is None
    json.dumps(segments, allow_nan=False)


def test_above_the_bound_profiles_use_a_sample_and_sizes_count_everyone(
    planted, monkeypatch
) -> None:
    clean, features, labels = planted
    monkeypatch.setattr("tasks.profiling.segment_description.PROFILE_MAX_ROWS", 600)
    rare = int(np.setdiff1d(np.arange(len(labels)), profiled_positions(labels))[0])
    labels = labels.copy()
    labels[rare] = labels.max() + 1  # a one-customer segment the sample does not draw

    at = profiled_positions(labels)
    description = describe(clean, features, labels)

    assert rare in at and len(at) == 601  # the sample, plus the segment it missed
    assert np.array_equal(at, profiled_positions(labels))  # seeded: the same rows each time
    sizes = description.profiles.sizes
    assert sizes["n"].to_dict() == pd.Series(labels).value_counts().sort_index().to_dict()
    assert set(description.names) == set(np.unique(labels))
    assert set(description.profiles.feature_medians.index) == set(np.unique(labels))


def test_names_from_given_traits_are_the_names_from_the_frame_without_recomputing(monkeypatch):
    clean, _ = generate_synthetic(600, seed=3)
    labels = np.arange(600) % 3
    expected = names_from_traits(clean, labels)
    traits = behaviour_traits(clean)

    def recomputed(frame):
        raise AssertionError("the traits were computed again")

    monkeypatch.setattr("tasks.profiling.segment_description.behaviour_traits", recomputed)
    assert names_from_traits(clean, labels, traits) == expected
