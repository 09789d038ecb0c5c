"""The template's values: grid summaries over seeds, the trade-off sentence, used methods only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.report.context import grid_summary, trade_off
from tasks.report.economics import Economics


def test_grid_summary_averages_seeds_and_counts_the_screened_ones():
    grid = pd.DataFrame(
        {
            "cell_id": ["a|s0", "a|s1", "b"],
            "algorithm": ["kmeans", "kmeans", "hdbscan"],
            "feature_set": ["behavioural"] * 3,
            "k": [4, 4, np.nan],
            "silhouette": [0.2, 0.4, 0.5],
            "eligible": [True, False, False],
        }
    )
    rows = {(r["algorithm"], r["k"]): r for r in grid_summary(grid)}
    assert rows[("kmeans", 4)]["values"][0] == "0.300"
    assert rows[("kmeans", 4)]["eligible"] == "1 of 2"
    assert rows[("hdbscan", "auto")]["eligible"] == "0 of 1"


def test_the_trade_off_names_the_segments_holding_most_stressed_balances(synthetic_report):
    sentence = trade_off(synthetic_report.economics, synthetic_report.names)
    by = synthetic_report.economics.by_group
    riskiest = by["stressed_balance_share"].idxmax()
    assert synthetic_report.names[int(riskiest)].name in sentence
    assert sentence in synthetic_report.html


def test_no_stress_at_all_is_said_plainly(synthetic_report):
    economics = synthetic_report.economics
    portfolio = economics.portfolio.copy()
    portfolio["stressed_balance"] = 0.0
    calm = Economics(economics.customers, economics.by_group, portfolio, economics.assumptions)
    assert trade_off(calm, synthetic_report.names).startswith("No customer is under stress")
