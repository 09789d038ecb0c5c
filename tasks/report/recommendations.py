"""What each segment means for the business, in words, quoting the segment's own numbers.

The playbook is keyed by the segment's archetype (tasks/profiling/naming.py), so the text follows
behaviour. Every number is the segment's value of a quantity as the profile summarises it (its
median, or its mean and share above 0 when zero-heavy: tasks/profiling/traits.py), never a
number written here. What to DO about a segment, with a target, a size and a test, is in
tasks/report/actions.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from tasks.profiling.naming import SegmentName
from tasks.profiling.profiles import SegmentProfiles
from tasks.profiling.traits import describe_value

# placeholder -> the engineered column it quotes
FACT_COLUMNS: dict[str, str] = {
    "util": "utilisation",
    "full_pay": "full_payment_share",
    "purchases_freq": "purchases_frequency",
    "inst_share": "installment_share",
    "pay_min": "payments_to_minimum",
    "limit": "credit_limit",
    "balance": "balance",
    "purchases_pm": "purchases_per_month",
    "cash_pm": "cash_advance_per_month",
}


@dataclass(frozen=True)
class Playbook:
    """Words for one archetype; `{placeholders}` are keys of FACT_COLUMNS."""

    headline: str
    meaning: str


PLAYBOOKS: dict[str, Playbook] = {
    "cash_revolver": Playbook(
        headline="contain risk: monitor cash-advance reliance, steer to an instalment loan",
        meaning="They use the card as a cash line: {cash_pm} of cash advance a month against "
        "{purchases_pm} of purchases, and rarely clear the balance (share of months paid in "
        "full {full_pay}).",
    ),
    "cash_and_spend": Playbook(
        headline="grow carefully: reward card spend, watch the cash advances",
        meaning="Active on both sides: {purchases_pm} purchases and {cash_pm} cash advance per "
        "month, large balances ({balance}) and little full payment ({full_pay}).",
    ),
    "transactor": Playbook(
        headline="retain and reward: cashback and premium upgrades, not credit",
        meaning="Frequent buyers (purchase frequency {purchases_freq}) who pay in full often "
        "(full payment {full_pay}); little revolving balance (utilisation {util}).",
    ),
    "big_spender": Playbook(
        headline="grow interchange: premium rewards and travel offers for big one-off spend",
        meaning="High spend ({purchases_pm} per month) mostly in one-off purchases (installment "
        "share {inst_share}) on high limits ({limit}).",
    ),
    "installment": Playbook(
        headline="cross-sell buy-now-pay-later and merchant instalment plans",
        meaning="Regular shoppers (purchase frequency {purchases_freq}) who prefer instalments "
        "(installment share {inst_share}) and keep balances low (utilisation {util}).",
    ),
    "maxed_low_limit": Playbook(
        headline="manage risk: near their low limits, test careful limit growth only for payers",
        meaning="Low limits ({limit}) used close to the maximum (utilisation {util}); "
        "they pay little beyond the minimum (payments / minimum {pay_min}).",
    ),
    "revolver": Playbook(
        headline="earn interest safely: balance-transfer and rate offers, watch utilisation",
        meaning="Carry large balances ({balance}) from month to month and seldom pay in "
        "full ({full_pay}), without relying on cash advances.",
    ),
    "revolver_with_cash": Playbook(
        headline="protect the book: large revolving balances fed by purchases and cash",
        meaning="Carry the largest balances ({balance}, utilisation {util}), buy on the "
        "card ({purchases_pm} per month) and also draw cash ({cash_pm} per month); they seldom "
        "pay in full ({full_pay}) and pay close to the minimum (payments / minimum {pay_min}).",
    ),
    "oneoff_spender": Playbook(
        headline="grow spend: rewards on one-off purchases, convert big tickets to instalments",
        meaning="Regular card buyers (purchase frequency {purchases_freq}, {purchases_pm} per "
        "month) who buy in one-off purchases (installment share {inst_share}), carry modest "
        "balances (utilisation {util}) and avoid cash advances.",
    ),
    "dormant": Playbook(
        headline="reactivate or rationalise: first-purchase incentives, review idle limits",
        meaning="Little purchase activity ({purchases_pm} per month, frequency "
        "{purchases_freq}) and low cash use: the card is mostly idle.",
    ),
    "occasional": Playbook(
        headline="increase usage: category offers to turn occasional use into a habit",
        meaning="Buy rarely (purchase frequency {purchases_freq}) and modestly "
        "({purchases_pm} per month), with low balances ({balance}).",
    ),
    "all_round": Playbook(
        headline="keep engaged: broad rewards, standard credit policy",
        meaning="No single behaviour stands out: purchases {purchases_pm} per month, cash "
        "advance {cash_pm}, utilisation {util}, full payment {full_pay}.",
    ),
    "noise": Playbook(
        headline="review individually: customers no segment describes",
        meaning="Customers the density-based method could not place in any dense group; many "
        "are extreme on one amount.",
    ),
}


@dataclass(frozen=True)
class Recommendation:
    """What a segment means for the business: a headline and its meaning (plain and HTML)."""

    segment: int
    name: str
    headline: str
    meaning: str
    meaning_html: Markup


def quantity_key(segment: int | str, column: str) -> str:
    """The id of one segment's value of one quantity, shared by every place that shows it."""
    return f"segment.{segment}.{column}"


def segment_value_text(profiles: SegmentProfiles, segment: int, column: str) -> str:
    """The one text for a segment's value of an engineered column."""
    return describe_value(
        column,
        float(profiles.feature_values.at[segment, column]),
        profiles.feature_statistic[column],
        float(profiles.feature_nonzero.at[segment, column]),
    )


def population_value_text(profiles: SegmentProfiles, column: str) -> str:
    return describe_value(
        column,
        float(profiles.population_feature_values[column]),
        profiles.feature_statistic[column],
        float(profiles.population_feature_nonzero[column]),
    )


def segment_facts(profiles: SegmentProfiles, segment: int) -> dict[str, str]:
    """The numbers a playbook may quote, as text, for one segment."""
    return {
        key: segment_value_text(profiles, segment, column) for key, column in FACT_COLUMNS.items()
    }


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _html(template: str, profiles: SegmentProfiles, segment: int) -> Markup:
    """The meaning with every quoted number tagged by its quantity id (`data-q`)."""
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(escape(template[last : match.start()]))
        column = FACT_COLUMNS[match.group(1)]
        text = segment_value_text(profiles, segment, column)
        parts.append(
            Markup('<span data-q="{}">{}</span>').format(quantity_key(segment, column), text)
        )
        last = match.end()
    parts.append(escape(template[last:]))
    return Markup("").join(parts)


def recommend(
    profiles: SegmentProfiles, names: dict[int, SegmentName]
) -> dict[int, Recommendation]:
    """One recommendation per segment, from its archetype's playbook and its own numbers."""
    result: dict[int, Recommendation] = {}
    for segment in profiles.segments:
        named = names[segment]
        book = PLAYBOOKS[named.archetype]
        result[segment] = Recommendation(
            segment=segment,
            name=named.name,
            headline=book.headline,
            meaning=book.meaning.format(**segment_facts(profiles, segment)),
            meaning_html=_html(book.meaning, profiles, segment),
        )
    return result
