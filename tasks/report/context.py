"""The report's content as plain values for the template: every number is computed, not typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schemas.raw import RULES
from tasks.profiling.naming import SegmentName, naming_rules_table
from tasks.profiling.profiles import Migration, SegmentProfiles
from tasks.profiling.surrogate import SurrogateExplanation
from tasks.profiling.traits import TRAITS, format_trait
from tasks.report.data_look import DataLook
from tasks.report.figures import profile_figure_key, segment_colours
from tasks.report.recommendations import Recommendation
from tasks.report.text import FURTHER_APPROACHES, FURTHER_COLUMNS, limitations

if TYPE_CHECKING:
    from tasks.report.build import ReportInputs

GRID_METRICS = (
    "silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "bic",
    "stability_ari",
    "n_segments",
    "min_segment_share",
    "noise_share",
)


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{float(value):,.{digits}f}"


def _chosen_row(grid: pd.DataFrame, cell_id: str) -> dict[str, Any]:
    row = grid.loc[grid["cell_id"].astype(str) == cell_id].iloc[0]
    k = row["k"]
    return {
        "cell_id": cell_id,
        "algorithm": str(row["algorithm"]),
        "feature_set": str(row["feature_set"]),
        "k": "density-based" if pd.isna(k) else int(k),
        "seed": row.get("seed"),
        "metrics": {m: _number(row.get(m, np.nan)) for m in GRID_METRICS},
        "silhouette": float(row["silhouette"]),
        "stability": float(row["stability_ari"]),
        "n_segments": int(row["n_segments"]),
    }


def grid_summary(grid: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean metrics over seeds per algorithm x feature set x k, with how many seeds qualified."""
    frame = grid.assign(k=grid["k"].fillna(-1))
    present = [m for m in GRID_METRICS if m in frame]
    table = frame.groupby(["algorithm", "feature_set", "k"], sort=True).agg(
        **{m: (m, "mean") for m in present},
        seeds=("cell_id", "count"),
        eligible=("eligible", "sum"),
    )
    rows = []
    for (algorithm, feature_set, k), values in table.iterrows():
        rows.append(
            {
                "algorithm": algorithm,
                "feature_set": feature_set,
                "k": "auto" if k == -1 else int(k),
                "values": [_number(values[m]) for m in present],
                "eligible": f"{int(values['eligible'])} of {int(values['seeds'])}",
            }
        )
    return rows


def _segment_entries(
    profiles: SegmentProfiles,
    names: dict[int, SegmentName],
    explanation: SurrogateExplanation,
    recommendations: dict[int, Recommendation],
    figures: dict[str, bytes],
) -> list[dict[str, Any]]:
    colours = segment_colours(profiles.segments)
    order = profiles.sizes.sort_values("n", ascending=False, kind="stable").index
    entries = []
    for segment in (int(s) for s in order):
        advice = recommendations[segment]
        totals = profiles.totals.loc[segment]
        entries.append(
            {
                "id": segment,
                "anchor": "segment-noise" if segment == -1 else f"segment-{segment}",
                "name": names[segment].name,
                "colour": colours[segment],
                "n": int(profiles.sizes.at[segment, "n"]),
                "share": float(profiles.sizes.at[segment, "share"]),
                "balance_share": float(totals["share_of_balance"]),
                "purchases_share": float(totals["share_of_purchases"]),
                "cash_share": float(totals["share_of_cash_advance"]),
                "headline": advice.headline,
                "meaning": advice.meaning,
                "actions": list(advice.actions.items()),
                "value": advice.value,
                "rules": explanation.rules[segment],
                "distinguishing": profiles.distinguishing[segment],
                "traits": [
                    (
                        t.label,
                        format_trait(t.key, float(profiles.trait_medians.at[segment, t.key])),
                        format_trait(t.key, float(profiles.population_trait_medians[t.key])),
                    )
                    for t in TRAITS
                ],
                "figure": figures[profile_figure_key(segment)],
            }
        )
    return entries


def _rule_rows(validation: dict) -> list[dict[str, Any]]:
    """Each rule's count from this run's validation, with its tier and why from the contract."""
    counts = [("hard", validation.get("hard_rule_counts", {}))]
    counts.append(("soft", validation.get("soft_rule_counts", {})))
    return [
        {"rule": rule, "tier": tier, "n": int(n), "why": RULES[rule].why if rule in RULES else None}
        for tier, table in counts
        for rule, n in table.items()
    ]


def report_context(
    inputs: ReportInputs,
    profiles: SegmentProfiles,
    names: dict[int, SegmentName],
    explanation: SurrogateExplanation,
    recommendations: dict[int, Recommendation],
    data_look: DataLook,
    migration: Migration | None,
    figures: dict[str, bytes],
) -> dict[str, Any]:
    """Everything the template shows, computed from the inputs and the analysis results."""
    validation = inputs.validation
    chosen = _chosen_row(inputs.grid, inputs.chosen_cell_id)
    noise_share = float(profiles.sizes["share"].get(-1, 0.0))
    meta = dict(inputs.run_meta)
    return {
        "meta": meta,
        "is_synthetic": bool(meta.get("is_synthetic", False)),
        "n_customers": profiles.n_customers,
        "n_segments": len([s for s in profiles.segments if s != -1]),
        "noise_share": noise_share,
        "chosen": chosen,
        "fidelity": explanation.fidelity,
        "explanation": explanation,
        "top_importances": [(k, v) for k, v in explanation.importances.items() if v >= 0.01][:5],
        "segments": _segment_entries(profiles, names, explanation, recommendations, figures),
        "validation": validation,
        "rule_rows": _rule_rows(validation),
        "data_look": data_look,
        "column_stats": data_look.column_stats.reset_index(names="column").to_dict("records"),
        "feature_notes": list(inputs.feature_notes),
        "feature_sets": sorted(inputs.feature_set_descriptions.items()),
        "algorithms": sorted(inputs.algorithm_descriptions.items()),
        "engineered_columns": sorted(profiles.feature_zscores.columns),
        "log_scaled_features": list(profiles.log_scaled_features),
        "grid_cells": len(inputs.grid),
        "grid_eligible": int(inputs.grid["eligible"].sum()),
        "grid_metric_names": [m for m in GRID_METRICS if m in inputs.grid],
        "grid_summary": grid_summary(inputs.grid),
        "selection_reasoning": inputs.selection_reasoning,
        "naming_rules": naming_rules_table(),
        "migration": migration,
        "limitations": limitations(inputs.clean, validation, profiles, chosen, explanation, meta),
        "further_columns": FURTHER_COLUMNS,
        "further_approaches": FURTHER_APPROACHES,
        "figures": figures,
    }
