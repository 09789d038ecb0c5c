"""One text per quantity: every number the report shows, formatted once, under a stable id.

The template shows a number only through its id (`q("segment.2.utilisation")`), which renders
`<span data-q="segment.2.utilisation">0.63</span>`; the executive page, the segment cards, the
tables and the notebook's `analysis.json` all read the same text. A test reads every tagged number
in the HTML and checks that one id never shows two texts, and that the untagged prose (limitations,
selection reasoning, figure labels) quotes the same ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tasks.profiling.profiles import SegmentProfiles
from tasks.profiling.surrogate import SurrogateExplanation
from tasks.report.actions import Action
from tasks.report.baseline import Baseline
from tasks.report.economics import Economics, money, money_range, share_range
from tasks.report.recommendations import (
    population_value_text,
    quantity_key,
    segment_value_text,
)


def pct(value: float) -> str:
    """A share of customers or of the portfolio: one decimal, everywhere."""
    return f"{value:.1%}" if np.isfinite(value) else "n/a"


def score(value: float) -> str:
    """A silhouette, an ARI or a stability: three decimals, everywhere."""
    return f"{value:.3f}" if value is not None and np.isfinite(value) else "n/a"


def _segment_quantities(
    profiles: SegmentProfiles, economics: Economics, actions: dict[int, Action]
) -> dict[str, str]:
    q: dict[str, str] = {}
    by = economics.by_group
    for segment in profiles.segments:
        key = f"segment.{segment}"
        totals = profiles.totals.loc[segment]
        q[f"{key}.customers"] = f"{int(profiles.sizes.at[segment, 'n']):,}"
        q[f"{key}.share"] = pct(float(profiles.sizes.at[segment, "share"]))
        q[f"{key}.balance_share"] = pct(float(totals["share_of_balance"]))
        q[f"{key}.purchases_share"] = pct(float(totals["share_of_purchases"]))
        q[f"{key}.cash_share"] = pct(float(totals["share_of_cash_advance"]))
        for column in profiles.feature_values.columns:
            q[quantity_key(segment, column)] = segment_value_text(profiles, segment, column)
        row = by.loc[segment]
        q[f"{key}.revenue"] = money_range(row["revenue_low"], row["revenue_high"])
        q[f"{key}.revenue_share"] = share_range(row["revenue_share_low"], row["revenue_share_high"])
        q[f"{key}.revenue_per_customer"] = money_range(
            row["revenue_per_customer_low"], row["revenue_per_customer_high"]
        )
        for line in ("interchange", "interest", "fees", "stress_loss", "net"):
            q[f"{key}.{line}"] = money_range(row[f"{line}_low"], row[f"{line}_high"])
        q[f"{key}.below_minimum"] = pct(row["below_minimum_share"])
        q[f"{key}.high_utilisation"] = pct(row["high_utilisation_share"])
        q[f"{key}.stressed_balance"] = money(row["stressed_balance"])
        q[f"{key}.stressed_balance_share"] = pct(row["stressed_balance_share"])
        if segment in actions:
            action = actions[segment]
            q[f"action.{segment}.customers"] = f"{action.customers:,}"
            q[f"action.{segment}.effect"] = action.effect_text
            q[f"action.{segment}.per_arm"] = (
                f"{action.test.per_arm:,}" if action.test.per_arm else "n/a"
            )
    return q


def build_quantities(
    *,
    profiles: SegmentProfiles,
    economics: Economics,
    actions: dict[int, Action],
    baseline: Baseline,
    explanation: SurrogateExplanation,
    chosen: dict[str, Any],
    finalist: pd.Series | None,
    segment_jaccard: dict[int, float] | None,
    grid: pd.DataFrame,
) -> dict[str, str]:
    """Every quantity the report shows, id -> text."""
    q = _segment_quantities(profiles, economics, actions)
    for column in profiles.population_feature_values.index:
        q[f"all.{column}"] = population_value_text(profiles, column)
    portfolio = economics.portfolio
    q["portfolio.customers"] = f"{profiles.n_customers:,}"
    q["portfolio.revenue"] = money_range(portfolio["revenue_low"], portfolio["revenue_high"])
    q["portfolio.stress_loss"] = money_range(
        portfolio["stress_loss_low"], portfolio["stress_loss_high"]
    )
    q["portfolio.net"] = money_range(portfolio["net_low"], portfolio["net_high"])
    q["portfolio.below_minimum"] = pct(portfolio["below_minimum_share"])
    q["portfolio.high_utilisation"] = pct(portfolio["high_utilisation_share"])
    q["portfolio.stressed_balance"] = money(portfolio["stressed_balance"])
    q["model.silhouette"] = score(chosen["silhouette"])
    q["model.reference_silhouette"] = score(chosen.get("reference_silhouette", np.nan))
    q["model.grid_stability"] = score(chosen["stability"])
    q["model.k"] = str(chosen["k"])
    q["model.fidelity"] = pct(explanation.fidelity)
    q["grid.cells"] = f"{len(grid):,}"
    q["grid.eligible"] = f"{int(grid['eligible'].sum()):,}"
    if finalist is not None:
        q["model.stability"] = score(finalist["stability_mean"])
        q["model.stability_ci"] = (
            f"{score(finalist['stability_ci_low'])} to {score(finalist['stability_ci_high'])}"
        )
        q["model.resamples"] = f"{int(finalist['resamples'])}"
        q["model.seed_agreement"] = score(finalist["seed_agreement"])
    for segment, value in (segment_jaccard or {}).items():
        q[f"segment.{segment}.jaccard"] = f"{value:.2f}"
    q["baseline.ari"] = score(baseline.agreement_ari)
    q["baseline.rule_reference_silhouette"] = score(baseline.rule_reference_silhouette)
    q["baseline.rule_model_silhouette"] = score(baseline.rule_model_silhouette)
    for quantity, row in baseline.variance_explained.iterrows():
        for source, value in row.items():
            q[f"explained.{source}.{quantity}"] = pct(float(value))
    return q
