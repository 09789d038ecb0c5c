"""Names and profile of the chosen segments, computed once, before promotion.

The same description goes into the registered model (its names and card) and to the report, so
a champion never exists without its names and the report cannot name segments differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.profiling.naming import SegmentName, name_segments
from tasks.profiling.profiles import SegmentProfiles, profile_segments
from tasks.profiling.traits import behaviour_traits


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


def describe(clean: pd.DataFrame, features: pd.DataFrame, labels: pd.Series) -> SegmentDescription:
    """Profile and name the segments of `labels` (one label per row of `clean` and `features`)."""
    labels = pd.Series(labels, dtype="int64").reset_index(drop=True)
    profiles = profile_segments(clean, features, labels)
    names = name_segments(behaviour_traits(clean.reset_index(drop=True)), labels)
    return SegmentDescription(names=names, profiles=profiles)


@task(name="describe-segments", cache_policy=NO_CACHE)
def describe_segments(
    clean: pd.DataFrame, features: pd.DataFrame, labels: pd.Series
) -> SegmentDescription:
    """`describe`, as the flow's step between selection and promotion."""
    return describe(clean, features, labels)
