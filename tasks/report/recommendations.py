"""Business meaning, actions and value at stake per segment, filled with the pipeline's own numbers.

The playbook is keyed by the segment's archetype (from tasks/profiling/naming.py), so advice follows
behaviour; every number in the text comes from the segment's profile, never from this file.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.profiling.naming import SegmentName
from tasks.profiling.profiles import SegmentProfiles

AREAS = ("Offers", "Credit-limit policy", "Risk monitoring", "Retention", "Channel")


@dataclass(frozen=True)
class Playbook:
    """Templated advice for one archetype; `{placeholders}` are keys of `segment_facts`."""

    headline: str
    meaning: str
    actions: tuple[str, str, str, str, str]  # one per entry of AREAS, same order
    value: str


PLAYBOOKS: dict[str, Playbook] = {
    "cash_revolver": Playbook(
        headline="contain risk: monitor cash-advance reliance, steer to an instalment loan",
        meaning="They use the card as a cash line: a median {cash_pm} of cash advance a month "
        "against {purchases_pm} of purchases, and rarely clear the balance (median share of "
        "months paid in full {full_pay}).",
        actions=(
            "Offer a lower-rate personal instalment loan to refinance cash advances.",
            "Freeze limit increases while utilisation stays above {util}; review on improvement.",
            "Early-warning watch-list: rising utilisation, payments near the minimum "
            "(payments / minimum {pay_min}).",
            "Hardship and budgeting outreach before a missed payment, not after.",
            "Proactive call or app message from the collections-prevention team.",
        ),
        value="Holds {balance_share} of balances and {cash_share} of all cash advances with "
        "median utilisation {util}: interest income that comes with high credit risk.",
    ),
    "cash_and_spend": Playbook(
        headline="grow carefully: reward card spend, watch the cash advances",
        meaning="Active on both sides: {purchases_pm} purchases and {cash_pm} cash advance per "
        "month, large balances (median {balance}) and little full payment ({full_pay}).",
        actions=(
            "Rewards on card purchases to shift cash needs onto purchases.",
            "Selective limit increases only with payments well above the minimum (now {pay_min}).",
            "Monitor cash-advance growth month on month; alert on a doubling.",
            "Retention offers on renewal: they are among the most valuable accounts.",
            "Relationship-manager or premium-service channel.",
        ),
        value="{customers_share} of customers carry {balance_share} of balances and make "
        "{purchases_share} of purchases: high revenue, concentrated exposure.",
    ),
    "transactor": Playbook(
        headline="retain and reward: cashback and premium upgrades, not credit",
        meaning="Frequent buyers (purchase frequency {purchases_freq}) who pay in full often "
        "(full payment {full_pay}); little revolving balance (utilisation {util}).",
        actions=(
            "Cashback or points on everyday categories; premium card upgrade.",
            "Generous limits cost little risk here: raise on request.",
            "Low risk: standard monitoring only.",
            "Loyalty rewards; watch for falling spend as the first churn sign.",
            "Digital self-service and app-based offers.",
        ),
        value="Interchange fees on {purchases_share} of purchases; credit risk is low "
        "(median utilisation {util}).",
    ),
    "big_spender": Playbook(
        headline="grow interchange: premium rewards and travel offers for big one-off spend",
        meaning="High spend ({purchases_pm} per month) mostly in one-off purchases (installment "
        "share {inst_share}) on high limits (median {limit}).",
        actions=(
            "Premium rewards, travel and merchant partner offers; convert large purchases to "
            "instalment plans at the till.",
            "Proactive limit increases for those paying above the minimum ({pay_min}).",
            "Standard monitoring; flag sudden spend spikes for fraud.",
            "Retention priority: annual-fee waivers and dedicated service.",
            "Premium channel: concierge, app notifications of partner offers.",
        ),
        value="{customers_share} of customers make {purchases_share} of all purchases: the "
        "main interchange-fee engine.",
    ),
    "installment": Playbook(
        headline="cross-sell buy-now-pay-later and merchant instalment plans",
        meaning="Regular shoppers (purchase frequency {purchases_freq}) who prefer instalments "
        "(installment share {inst_share}) and keep balances low (utilisation {util}).",
        actions=(
            "Zero- or low-interest instalment plans with partner merchants.",
            "Moderate limit increases to fit larger instalment purchases.",
            "Low risk: watch the number of parallel instalment plans.",
            "Keep them engaged with seasonal instalment campaigns.",
            "E-commerce checkout and in-app instalment offers.",
        ),
        value="Predictable fee and interest income on {purchases_share} of purchases with "
        "median utilisation {util}.",
    ),
    "maxed_low_limit": Playbook(
        headline="manage risk: near their low limits, test careful limit growth only for payers",
        meaning="Low limits (median {limit}) used close to the maximum (utilisation {util}); "
        "they pay little beyond the minimum (payments / minimum {pay_min}).",
        actions=(
            "Secured or credit-builder offers rather than new credit.",
            "No automatic increases; a small, tested increase for those paying on time.",
            "Over-limit and missed-payment alerts; early collections contact.",
            "Financial-wellbeing content; reward on-time payment streaks.",
            "SMS and app reminders before the due date.",
        ),
        value="Median utilisation {util} on {limit} limits: a delinquency risk pocket holding "
        "{balance_share} of balances.",
    ),
    "revolver": Playbook(
        headline="earn interest safely: balance-transfer and rate offers, watch utilisation",
        meaning="Carry large balances (median {balance}) from month to month and seldom pay in "
        "full ({full_pay}), without relying on cash advances.",
        actions=(
            "Balance-transfer or reduced-rate offers to keep balances with us.",
            "Limit increases only where payments stay above the minimum (now {pay_min}).",
            "Track utilisation trend (now {util}) and payment-to-minimum ratio.",
            "Retention offers when a competitor balance-transfer is likely.",
            "Targeted email and app offers.",
        ),
        value="Holds {balance_share} of balances: a core interest-income segment.",
    ),
    "revolver_with_cash": Playbook(
        headline="protect the book: large revolving balances fed by purchases and cash",
        meaning="Carry the largest balances (median {balance}, utilisation {util}), buy on the "
        "card ({purchases_pm} per month) and also draw cash ({cash_pm} per month); they seldom "
        "pay in full ({full_pay}) and pay close to the minimum (payments / minimum {pay_min}).",
        actions=(
            "Balance-transfer or instalment-plan offer that moves cash advances to a lower rate.",
            "No limit increases while utilisation is above {util}; reassess on improvement.",
            "Watch-list on utilisation and payment-to-minimum trends; early collections contact.",
            "Retention matters: they generate interest income; offer rate reviews, not rewards.",
            "Personal contact (call or relationship manager) for the largest balances.",
        ),
        value="{customers_share} of customers carry {balance_share} of balances and "
        "{cash_share} of cash advances: interest income with concentrated exposure.",
    ),
    "oneoff_spender": Playbook(
        headline="grow spend: rewards on one-off purchases, convert big tickets to instalments",
        meaning="Regular card buyers (purchase frequency {purchases_freq}, {purchases_pm} per "
        "month) who buy in one-off purchases (installment share {inst_share}), carry modest "
        "balances (utilisation {util}) and avoid cash advances.",
        actions=(
            "Points or cashback on one-off spend; pay-in-instalments offer on large tickets.",
            "Limit increases on request for customers paying well above the minimum ({pay_min}).",
            "Low risk: standard monitoring.",
            "Spend-based loyalty tiers; watch for falling purchase frequency.",
            "In-app offers at checkout and after large purchases.",
        ),
        value="{customers_share} of customers make {purchases_share} of purchases: "
        "interchange income at low credit risk.",
    ),
    "dormant": Playbook(
        headline="reactivate or rationalise: first-purchase incentives, review idle limits",
        meaning="Little purchase activity ({purchases_pm} per month, frequency "
        "{purchases_freq}) and low cash use: the card is mostly idle.",
        actions=(
            "Reactivation bonus for the first purchases in 90 days.",
            "Review unused limits (median {limit}): idle limits still hold capital.",
            "Low risk; watch for sudden activity on dormant cards (fraud).",
            "Ask why they do not use the card; close costly inactive accounts.",
            "Low-cost digital channels: email and app push.",
        ),
        value="{customers_share} of customers but only {purchases_share} of purchases: "
        "capital is tied up in unused limits.",
    ),
    "occasional": Playbook(
        headline="increase usage: category offers to turn occasional use into a habit",
        meaning="Buy rarely (purchase frequency {purchases_freq}) and modestly "
        "({purchases_pm} per month), with low balances ({balance}).",
        actions=(
            "Category cashback (groceries, fuel) to build monthly usage.",
            "Keep limits as they are until usage grows.",
            "Low risk: standard monitoring.",
            "Usage milestones with small rewards.",
            "App and email nudges at typical purchase moments.",
        ),
        value="{customers_share} of customers with {purchases_share} of purchases: upside "
        "from higher engagement.",
    ),
    "all_round": Playbook(
        headline="keep engaged: broad rewards, standard credit policy",
        meaning="No single behaviour stands out: purchases {purchases_pm} per month, cash "
        "advance {cash_pm}, utilisation {util}, full payment {full_pay}.",
        actions=(
            "Broad rewards programme; test targeted offers to find the lever.",
            "Standard limit policy driven by payment behaviour (payments / minimum {pay_min}).",
            "Standard monitoring.",
            "General loyalty programme.",
            "Mixed channels, measured by response.",
        ),
        value="{customers_share} of customers holding {balance_share} of balances and making "
        "{purchases_share} of purchases.",
    ),
    "noise": Playbook(
        headline="review individually: customers no segment describes",
        meaning="Customers the density-based method could not place in any dense group; many "
        "are extreme on one amount.",
        actions=(
            "No segment-wide offer; individual review for the largest accounts.",
            "Case-by-case limit decisions.",
            "Check for data errors and unusual activity.",
            "Case-by-case.",
            "Account manager for high-value cases.",
        ),
        value="{customers_share} of customers holding {balance_share} of balances.",
    ),
}


@dataclass(frozen=True)
class Recommendation:
    """What a segment means for the business and what to do about it."""

    segment: int
    name: str
    headline: str
    meaning: str
    actions: dict[str, str]  # area -> action, in AREAS order
    value: str


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value == value else "n/a"


def _ratio(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if value == value else "n/a"


def segment_facts(profiles: SegmentProfiles, segment: int) -> dict[str, str]:
    """The numbers a playbook may quote, formatted, for one segment."""
    traits = profiles.trait_medians.loc[segment]
    totals = profiles.totals.loc[segment]
    return {
        "n": f"{int(profiles.sizes.at[segment, 'n']):,}",
        "customers_share": _pct(float(profiles.sizes.at[segment, "share"])),
        "balance_share": _pct(float(totals["share_of_balance"])),
        "purchases_share": _pct(float(totals["share_of_purchases"])),
        "cash_share": _pct(float(totals["share_of_cash_advance"])),
        "util": _ratio(float(traits["utilisation"])),
        "full_pay": _ratio(float(traits["full_payment_share"])),
        "purchases_freq": _ratio(float(traits["purchases_frequency"])),
        "inst_share": _ratio(float(traits["installment_share"])),
        "pay_min": _ratio(float(traits["payments_to_minimum"]), 1),
        "limit": _amount(float(traits["credit_limit"])),
        "balance": _amount(float(traits["balance"])),
        "purchases_pm": _amount(float(traits["purchases_per_month"])),
        "cash_pm": _amount(float(traits["cash_advance_per_month"])),
    }


def recommend(
    profiles: SegmentProfiles, names: dict[int, SegmentName]
) -> dict[int, Recommendation]:
    """One recommendation per segment, from its archetype's playbook and its own numbers."""
    result: dict[int, Recommendation] = {}
    for segment in profiles.segments:
        named = names[segment]
        book = PLAYBOOKS[named.archetype]
        facts = segment_facts(profiles, segment)
        result[segment] = Recommendation(
            segment=segment,
            name=named.name,
            headline=book.headline,
            meaning=book.meaning.format(**facts),
            actions={
                area: text.format(**facts) for area, text in zip(AREAS, book.actions, strict=True)
            },
            value=book.value.format(**facts),
        )
    return result
