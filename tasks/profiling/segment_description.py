"""Names and profile of the chosen segments, computed once, before promotion.

The same description goes into the registered model (its names and card) and to the report, so
a champion never exists without its names and the report cannot name segments differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.profiling.naming import SegmentName, name_segments
from tasks.profiling.profiles import (
    SegmentProfiles,
    portfolio_shares,
    positional,
    profile_segments,
    segment_sizes,
)
from tasks.profiling.traits import behaviour_traits

# Above this many customers, profiles and names come from a seeded sample of this many.
PROFILE_MAX_ROWS = 1_000_000


def _number(value: float) -> float | None:
    """A JSON-safe number: NaN (undefined) becomes null rather than an invalid token."""
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class SegmentDescription:
    """Every segment's name (with the reasons for it) and its profile."""

    names: dict[int, SegmentName]
    profiles: SegmentProfiles

    def segment_names(self) -> dict[int, str]:
        return {segment: entry.name for segment, entry in self.names.items()}

    def card_segments(self) -> dict[str, dict[str, object]]:
        """Per segment, JSON-ready: name, why, size, share, medians, share of the portfolio."""
        profiles = self.profiles
        segments: dict[str, dict[str, object]] = {}
        for segment in profiles.segments:
            entry = self.names[segment]
            segments[str(segment)] = {
                "name": entry.name,
                "archetype": entry.archetype,
                "qualifier": entry.qualifier,
                "customers": int(profiles.sizes.at[segment, "n"]),
                "share": _number(profiles.sizes.at[segment, "share"]),
                "trait_percentiles": {k: _number(v) for k, v in entry.percentiles.items()},
                "feature_medians": {
                    k: _number(v) for k, v in profiles.feature_medians.loc[segment].items()
                },
                "portfolio_shares": {
                    k: _number(v) for k, v in profiles.totals.loc[segment].items()
                },
            }
        return segments


def profiled_positions(labels: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """The rows profiles and names are computed on: None (all) up to PROFILE_MAX_ROWS, else a
    sorted seeded sample of that many plus every member of a segment the sample missed."""
    if profiles_every_row(len(labels)):
        return None
    drawn = np.random.default_rng(seed).choice(len(labels), PROFILE_MAX_ROWS, replace=False)
    missed = np.setdiff1d(np.unique(labels), np.unique(labels[drawn]))
    return np.union1d(drawn, np.flatnonzero(np.isin(labels, missed)))


def profiles_every_row(rows: int) -> bool:
    """Whether profiles and names use every row (else the sample of `profiled_positions`)."""
    return rows <= PROFILE_MAX_ROWS


def names_from_traits(
    clean: pd.DataFrame, labels: np.ndarray, traits: pd.DataFrame | None = None
) -> dict[int, SegmentName]:
    """The segments' names from their traits, on the rows `profiled_positions` picks.

    The traits of every customer are a frame the size of the portfolio (a copy of 10M customers
    held 3 GB); the names rest on segment medians, which the sample gives to a fraction of a
    percent. `traits`: every row's, when the caller names several labellings of a small frame.
    """
    labels = np.asarray(labels, dtype=np.int64)
    at = profiled_positions(labels)
    if at is None:
        every = traits if traits is not None else behaviour_traits(positional(clean))
        return name_segments(every, pd.Series(labels))
    return name_segments(
        behaviour_traits(clean.iloc[at].reset_index(drop=True)), pd.Series(labels[at])
    )


def describe(clean: pd.DataFrame, features: pd.DataFrame, labels: pd.Series) -> SegmentDescription:
    """Profile and name the segments of `labels` (one label per row of `clean` and `features`).

    Above PROFILE_MAX_ROWS customers, medians, means, z-scores and the traits the names rest
    on come from a seeded sample of that many (the same to a fraction of a percent; on 10M
    customers the full computation held 12 GB); sizes and portfolio shares count everyone.
    """
    labels = pd.Series(labels, dtype="int64").reset_index(drop=True)
    everyone = labels.to_numpy()
    at = profiled_positions(everyone)
    if at is None:
        profiles = profile_segments(clean, features, labels)
        return SegmentDescription(names=names_from_traits(clean, everyone), profiles=profiles)
    clean_at = clean.iloc[at].reset_index(drop=True)
    labels_at = labels.iloc[at].reset_index(drop=True)
    profiles = profile_segments(clean_at, features.iloc[at].reset_index(drop=True), labels_at)
    profiles = replace(
        profiles,
        sizes=segment_sizes(everyone),
        totals=portfolio_shares(clean, everyone),
    )
    # The sample names_from_traits would draw again: named from the copy already made.
    names = name_segments(behaviour_traits(clean_at), labels_at)
    return SegmentDescription(names=names, profiles=profiles)


@task(name="describe-segments", cache_policy=NO_CACHE)
def describe_segments(
    clean: pd.DataFrame, features: pd.DataFrame, labels: pd.Series
) -> SegmentDescription:
    """`describe`, as the flow's step between selection and promotion."""
    return describe(clean, features, labels)
