"""Behaviour names for segments, assigned by documented rules on the profile, never by index.

Every threshold is a population percentile of the segment's median trait (mid-rank, 0..1), so
"top quarter for cash advance" means the same on next month's data as on today's, whatever the
currency level or the cluster numbering. Names are unique: when two segments earn the same
archetype, the trait that separates them most is added as a qualifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tasks.profiling.traits import TRAIT_BY_KEY, TRAITS, population_percentiles

NOISE_SEGMENT = -1
NOISE_NAME = "Unclustered outliers"
NOISE_ARCHETYPE = "noise"


@dataclass(frozen=True)
class Condition:
    """The segment's median `trait` sits at or above (or at or below) a population percentile."""

    trait: str
    at_least: bool
    percentile: float

    def margin(self, value: float) -> float:
        """How far inside the condition a percentile is; negative when it fails."""
        return value - self.percentile if self.at_least else self.percentile - value

    def describe(self) -> str:
        """E.g. "median cash advance per month in the top 30% of customers"."""
        label = TRAIT_BY_KEY[self.trait].label
        if self.at_least and self.percentile >= 0.5:
            return f"median {label} in the top {round((1 - self.percentile) * 100)}% of customers"
        if not self.at_least and self.percentile <= 0.5:
            return f"median {label} in the bottom {round(self.percentile * 100)}% of customers"
        side = "at or above" if self.at_least else "at or below"
        return f"median {label} {side} the {round(self.percentile * 100)}th percentile"


def _above(trait: str, percentile: float) -> Condition:
    return Condition(trait, True, percentile)


def _below(trait: str, percentile: float) -> Condition:
    return Condition(trait, False, percentile)


@dataclass(frozen=True)
class Archetype:
    """A named behaviour pattern and the conditions a segment must meet to carry its name."""

    key: str
    name: str
    conditions: tuple[Condition, ...]


# Tuned on the real file's shape: cash advance is zero for about half of customers and full
# payment for two thirds, so a segment median of 0 sits near percentile 0.26 / 0.33 and the
# "high" thresholds below lie clearly above those tie blocks.
ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "cash_revolver",
        "Cash-advance revolvers",
        (_above("cash_advance_per_month", 0.70), _below("purchases_per_month", 0.50)),
    ),
    Archetype(
        "cash_and_spend",
        "Active spenders who also draw cash",
        (_above("cash_advance_per_month", 0.70), _above("purchases_per_month", 0.60)),
    ),
    Archetype(
        "transactor",
        "Full-paying transactors",
        (_above("full_payment_share", 0.80), _above("purchases_frequency", 0.55)),
    ),
    Archetype(
        "big_spender",
        "High-spend one-off buyers",
        (_above("purchases_per_month", 0.75), _below("installment_share", 0.50)),
    ),
    Archetype(
        "installment",
        "Installment shoppers",
        (
            _above("installment_share", 0.60),
            _above("purchases_frequency", 0.45),
            _below("full_payment_share", 0.75),
        ),
    ),
    Archetype(
        "maxed_low_limit",
        "Maxed-out low-limit borrowers",
        (_above("utilisation", 0.75), _below("credit_limit", 0.35)),
    ),
    Archetype(
        "revolver",
        "Revolving balance carriers",
        (
            _above("balance", 0.70),
            _below("full_payment_share", 0.50),
            _below("cash_advance_per_month", 0.60),
        ),
    ),
    Archetype(
        "revolver_with_cash",
        "Revolvers who spend and draw cash",
        (
            _above("balance", 0.70),
            _above("cash_advance_per_month", 0.60),
            _above("purchases_per_month", 0.40),
        ),
    ),
    Archetype(
        "oneoff_spender",
        "One-off card spenders",
        (
            _below("installment_share", 0.35),
            _above("purchases_frequency", 0.45),
            _below("cash_advance_per_month", 0.55),
        ),
    ),
    Archetype(
        "dormant",
        "Dormant low-activity",
        (_below("purchases_per_month", 0.30), _below("cash_advance_per_month", 0.55)),
    ),
    Archetype(
        "occasional",
        "Occasional light buyers",
        (
            _below("purchases_frequency", 0.40),
            _above("purchases_per_month", 0.30),  # below 0.30 is dormant: no overlap
            _below("purchases_per_month", 0.55),
            _below("cash_advance_per_month", 0.55),
        ),
    ),
)
FALLBACK = Archetype("all_round", "Moderate all-round users", ())
ARCHETYPE_BY_KEY: dict[str, Archetype] = {a.key: a for a in (*ARCHETYPES, FALLBACK)}


@dataclass(frozen=True)
class SegmentName:
    """The name a segment carries and why: its archetype, qualifier and trait percentiles."""

    segment: int
    name: str
    archetype: str
    qualifier: str | None = None
    percentiles: dict[str, float] = field(default_factory=dict)


def segment_trait_percentiles(traits: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Population percentile of each segment's median trait: segments x traits, in [0, 1]."""
    labels = pd.Series(labels.to_numpy(), index=traits.index)
    medians = traits.groupby(labels).median()
    return pd.DataFrame(
        {
            key: population_percentiles(traits[key], [medians.at[s, key] for s in medians.index])
            for key in traits.columns
        },
        index=medians.index,
    )


def _score(archetype: Archetype, percentiles: pd.Series) -> float | None:
    """Mean margin over the archetype's conditions, or None if any condition fails."""
    margins = [c.margin(float(percentiles[c.trait])) for c in archetype.conditions]
    if any(m < 0 for m in margins):
        return None
    return sum(margins) / len(margins)


def _profile_key(percentiles: pd.Series) -> tuple[float, ...]:
    """A tie-break that depends on the profile only, so renumbering clusters changes nothing."""
    return tuple(round(float(v), 9) for v in percentiles.to_numpy())


def _assign_archetypes(table: pd.DataFrame) -> dict[int, str]:
    """Greedy best-score matching of segments to distinct archetypes; the rest reuse their best."""
    candidates: list[tuple[float, int, tuple[float, ...], int, str]] = []
    for seg, row in table.iterrows():
        for order, archetype in enumerate(ARCHETYPES):
            score = _score(archetype, row)
            if score is not None:
                candidates.append((-score, order, _profile_key(row), int(seg), archetype.key))
    candidates.sort(key=lambda c: c[:3])
    assigned: dict[int, str] = {}
    taken: set[str] = set()
    for _, _, _, seg, key in candidates:
        if seg not in assigned and key not in taken:
            assigned[seg] = key
            taken.add(key)
    for _, _, _, seg, key in candidates:
        assigned.setdefault(seg, key)  # first hit is the segment's best archetype
    for seg in table.index:
        assigned.setdefault(int(seg), FALLBACK.key)
    return assigned


def _rank_words(count: int) -> list[str]:
    if count == 2:
        return ["lower", "higher"]
    if count == 3:
        return ["low", "mid", "high"]
    return [f"rank {i + 1} of {count} by" for i in range(count)]


def _qualifiers(table: pd.DataFrame, members: list[int]) -> dict[int, str]:
    """Name the trait that separates same-archetype segments most, ranked low to high."""
    spread = table.loc[members].max() - table.loc[members].min()
    trait = max(TRAITS, key=lambda t: (round(float(spread.get(t.key, 0.0)), 9), -TRAITS.index(t)))
    ordered = sorted(
        members, key=lambda s: (float(table.at[s, trait.key]), _profile_key(table.loc[s]))
    )
    words = _rank_words(len(ordered))
    return {seg: f"{word} {trait.short}" for seg, word in zip(ordered, words, strict=True)}


def name_segments(traits: pd.DataFrame, labels: pd.Series) -> dict[int, SegmentName]:
    """Give every segment (and the noise label -1, if present) a unique behaviour name."""
    table = segment_trait_percentiles(traits, labels)
    result: dict[int, SegmentName] = {}
    if NOISE_SEGMENT in table.index:
        result[NOISE_SEGMENT] = SegmentName(
            NOISE_SEGMENT, NOISE_NAME, NOISE_ARCHETYPE, None, table.loc[NOISE_SEGMENT].to_dict()
        )
        table = table.drop(index=NOISE_SEGMENT)
    assigned = _assign_archetypes(table)
    groups: dict[str, list[int]] = {}
    for seg, key in assigned.items():
        groups.setdefault(key, []).append(seg)
    for key, members in groups.items():
        base = ARCHETYPE_BY_KEY[key].name
        qualifiers = _qualifiers(table, members) if len(members) > 1 else {}
        for seg in members:
            qualifier = qualifiers.get(seg)
            name = f"{base}, {qualifier}" if qualifier else base
            result[seg] = SegmentName(seg, name, key, qualifier, table.loc[seg].to_dict())
    # Unique by construction: archetype names differ, and rank words within a group differ.
    return result


def naming_rules_table() -> list[dict[str, str]]:
    """The naming rules as rows (name, conditions) for the report's methodology section."""
    rows = [
        {"name": a.name, "conditions": "; ".join(c.describe() for c in a.conditions)}
        for a in ARCHETYPES
    ]
    rows.append({"name": FALLBACK.name, "conditions": "no rule above holds"})
    return rows
