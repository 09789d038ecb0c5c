"""The report's limitations (with the run's own numbers) and its further-investigation lists."""

from __future__ import annotations

from typing import Any

import pandas as pd

from schemas.raw import breaks_soft_rule
from tasks.profiling.profiles import SegmentProfiles
from tasks.profiling.surrogate import SurrogateExplanation

# (column, why it would help): what the data lacks, not statements about the data.
FURTHER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("APR, interest and fee revenue", "turns 'share of balances' into profit per segment, so "
     "offers can be ranked by margin, not volume."),
    ("Delinquency and default flags (30/60/90 days past due, charge-off)", "the missing outcome: "
     "validates which segments are risky instead of inferring it from utilisation."),
    ("Merchant categories (MCC)", "what people buy (travel, groceries, fuel) drives the reward "
     "and partner offers the recommendations suggest."),
    ("Transaction timestamps", "monthly sequences show trends (a transactor drifting into "
     "revolving) that totals over the whole window hide."),
    ("Demographics and income", "affordability and life stage explain behaviour and make "
     "credit-limit decisions fairer and better targeted."),
    ("Channel and engagement (app, web, branch; logins, campaign responses)", "says which channel "
     "reaches each segment and who answers offers."),
    ("Product type and card tier", "separates product effects (a premium card) from behaviour."),
    ("Credit-bureau score", "an external risk view to combine with the behavioural segments."),
    ("Utilisation and limit history", "limit changes and utilisation over time show stress "
     "building up before a default."),
)  # fmt: skip

FURTHER_APPROACHES: tuple[tuple[str, str], ...] = (
    ("Default / delinquency propensity model", "supervised (gradient boosting, logistic "
     "regression) on a default flag; segments become features and a reporting layer."),
    ("Churn / attrition propensity", "predict closure or inactivity to time retention offers."),
    ("Customer lifetime value regression", "forecast margin per customer to size each "
     "recommendation's value in money."),
    ("Uplift tests of the recommendations", "randomised A/B or uplift models per segment: "
     "clustering says who is alike, only an experiment says who responds."),
    ("Time-series of behaviour", "monthly features and transition models (segment migration "
     "over time, hidden Markov models)."),
    ("Survival analysis", "time to default, to churn or to first revolving balance, per segment."),
)  # fmt: skip


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def limitations(
    clean: pd.DataFrame,
    validation: dict,
    profiles: SegmentProfiles,
    chosen: dict[str, Any],
    explanation: SurrogateExplanation,
    meta: dict,
) -> list[str]:
    """What this analysis cannot say, each point quantified from this run's data."""
    n = len(clean)
    tenure = clean["TENURE"]
    full_window = int((tenure == tenure.max()).sum())
    below_minimum = int(breaks_soft_rule(clean, "minimum_payment_above_payments").sum())
    over_limit = int(breaks_soft_rule(clean, "balance_over_limit").sum())
    soft = sum(int(v) for v in validation.get("soft_rule_counts", {}).values())
    items = [
        f"Short, aggregated window: every one of the {n:,} rows summarises at most "
        f"{int(tenure.max())} months (TENURE {int(tenure.min())}-{int(tenure.max())}; "
        f"{_share(full_window, n)} have the full window) as totals and frequencies, with no "
        "dates: trends, seasonality and the order of events are invisible.",
        "No outcome to validate against: there is no default, delinquency, churn or profit "
        f"column. Risk is inferred from proxies, e.g. {_share(below_minimum, n)} of customers "
        f"paid less than the minimum and {_share(over_limit, n)} are over their limit.",
        "No revenue or profitability: interest, fees and interchange are absent, so value is "
        "measured as shares of balances and purchases, not as profit.",
        f"No demographics, channel or product data, and CUST_ID is anonymised ({n:,} ids): the "
        "segments cannot be linked to other systems or explained by who the customers are.",
        f"Segments overlap: the chosen model's silhouette is {chosen['silhouette']:.2f} "
        "(0 means on a border, 1 perfectly separated) and its bootstrap stability (ARI) "
        f"{chosen['stability']:.2f}; the {explanation.depth}-level rule tree reproduces "
        f"{explanation.fidelity:.0%} of the assignments, so customers near a border could sit "
        "in either neighbour.",
        "Clustering describes, it does not explain or predict: it groups customers who behave "
        "alike, not why they do, nor how they will respond to an offer. Every recommended "
        "action should be tested (A/B or uplift) before rollout.",
        f"Data quirks were kept, not repaired: {soft:,} soft-rule findings across "
        f"{validation.get('rows_clean', n):,} clean rows (see Data and quality).",
    ]
    noise = float(profiles.sizes["share"].get(-1, 0.0))
    if noise > 0:
        items.append(f"{noise:.1%} of customers were left unassigned (noise) by the method.")
    if meta.get("is_synthetic"):
        items.insert(0, "This run used SYNTHETIC data: none of its findings describe customers.")
    return items
