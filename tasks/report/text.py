"""The report's limitations (with the run's own numbers) and its further-investigation lists."""

from __future__ import annotations

import pandas as pd

from schemas.raw import breaks_soft_rule
from tasks.profiling.profiles import SegmentProfiles
from tasks.profiling.surrogate import SurrogateExplanation

# (column, why it would help): what the data lacks, not statements about the data.
FURTHER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Booked APR, interest and fee revenue", "replaces the assumed rates of the value-and-risk "
     "section with each customer's own, so offers are ranked by booked margin."),
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
    ("Uplift models after the A/B tests", "the tests in the actions section say whether an action "
     "works on average; uplift models on their results say for whom."),
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
    quantities: dict[str, str],
    explanation: SurrogateExplanation,
    meta: dict,
) -> list[str]:
    """What this analysis cannot say, each point quantified from this run (the report's texts)."""
    n = len(clean)
    tenure = clean["TENURE"]
    full_window = int((tenure == tenure.max()).sum())
    over_limit = int(breaks_soft_rule(clean, "balance_over_limit").sum())
    soft = sum(int(v) for v in validation.get("soft_rule_counts", {}).values())
    stability = quantities.get("model.stability", quantities["model.grid_stability"])
    items = [
        f"Short, aggregated window: every one of the {n:,} rows summarises at most "
        f"{int(tenure.max())} months (TENURE {int(tenure.min())}-{int(tenure.max())}; "
        f"{_share(full_window, n)} have the full window) as totals and frequencies, with no "
        "dates: trends, seasonality and the order of events are invisible.",
        "No outcome to validate against: there is no default, delinquency, churn or profit "
        f"column. Risk is inferred from proxies, e.g. {quantities['portfolio.below_minimum']} of "
        f"customers paid less than the minimum and {_share(over_limit, n)} are over their limit.",
        "No prices: revenue and losses are estimates under stated assumptions (interchange, APR, "
        "cash-advance fee, loss rate, each with a low and a high value), not booked figures; "
        f"the portfolio's revenue is {quantities['portfolio.revenue']} a year under them.",
        f"No demographics, channel or product data, and CUST_ID is anonymised ({n:,} ids): the "
        "segments cannot be linked to other systems or explained by who the customers are.",
        f"Segments overlap: the chosen model's silhouette is {quantities['model.silhouette']} "
        "(0 means on a border, 1 perfectly separated) and its bootstrap stability (ARI) "
        f"{stability}; the {explanation.depth}-level rule tree reproduces "
        f"{quantities['model.fidelity']} of the assignments, so customers near a border could "
        "sit in either neighbour.",
        "Clustering describes, it does not explain or predict: it groups customers who behave "
        "alike, not why they do, nor how they will respond to an offer. Every action in this "
        "report comes with the A/B test that would show whether it works.",
        f"Data quirks were kept, not repaired: {soft:,} soft-rule findings across "
        f"{validation.get('rows_clean', n):,} clean rows (see Data and quality).",
    ]
    noise = float(profiles.sizes["share"].get(-1, 0.0))
    if noise > 0:
        items.append(f"{noise:.1%} of customers were left unassigned (noise) by the method.")
    if meta.get("is_synthetic"):
        items.insert(0, "This run used SYNTHETIC data: none of its findings describe customers.")
    return items
