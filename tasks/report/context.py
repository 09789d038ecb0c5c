"""The report's content as plain values for the template: every number is computed, not typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schemas.raw import RULES
from tasks.profiling.naming import SegmentName, naming_rules_table
from tasks.profiling.profiles import Migration, SegmentProfiles
from tasks.profiling.surrogate import SurrogateExplanation
from tasks.profiling.traits import TRAITS
from tasks.report.actions import Action, decisions
from tasks.report.baseline import (
    FULL_PAYER_SHARE,
    REPAYMENT_GROUPS,
    RULE_GROUPS,
    RULE_TEXT,
    Baseline,
    verdict,
)
from tasks.report.data_look import DataLook
from tasks.report.economics import HIGH_UTILISATION, Economics, money, money_range, trade_off
from tasks.report.figures import profile_figure_key, segment_colours
from tasks.report.quantities import build_quantities, pct, score
from tasks.report.recommendations import Recommendation, quantity_key
from tasks.report.text import FURTHER_APPROACHES, FURTHER_COLUMNS, limitations

if TYPE_CHECKING:
    from tasks.report.build import ReportInputs

GRID_METRICS = (
    "silhouette",
    "reference_silhouette",
    "davies_bouldin",
    "calinski_harabasz",
    "bic",
    "stability_ari",
    "n_segments",
    "min_segment_share",
    "noise_share",
)


# The grid's own stability is the 10-resample screen; the finalists' 50-resample one is reported
# apart, so the two are never shown under the same name.
METRIC_LABELS = {
    "stability_ari": "screening stability (grid resamples)",
    "reference_silhouette": "reference silhouette",
    "silhouette": "own-space silhouette",
}


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
        "reference_silhouette": float(row.get("reference_silhouette", np.nan)),
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
    actions: dict[int, Action],
    figures: dict[str, bytes],
) -> list[dict[str, Any]]:
    colours = segment_colours(profiles.segments)
    order = profiles.sizes.sort_values("n", ascending=False, kind="stable").index
    entries = []
    for segment in (int(s) for s in order):
        advice = recommendations[segment]
        entries.append(
            {
                "id": segment,
                "anchor": "segment-noise" if segment == -1 else f"segment-{segment}",
                "name": names[segment].name,
                "colour": colours[segment],
                "headline": advice.headline,
                "meaning": advice.meaning_html,
                "action": actions.get(segment),
                "rules": explanation.rules[segment],
                "distinguishing": [
                    (d, quantity_key(segment, d.feature)) for d in profiles.distinguishing[segment]
                ],
                "traits": [(t.label, t.key) for t in TRAITS],
                "figure": figures[profile_figure_key(segment)],
            }
        )
    return entries


def _finalist_rows(finalists: pd.DataFrame | None) -> list[dict[str, Any]]:
    if finalists is None or finalists.empty:
        return []
    rows = []
    for _, f in finalists.iterrows():
        rows.append(
            {
                "cell_id": f["cell_id"],
                "chosen": bool(f.get("chosen", False)),
                "qualified": bool(f.get("qualified", False)),
                "values": [
                    str(int(f["n_segments"])),
                    score(f["reference_silhouette"]),
                    score(f["silhouette"]),
                    f"{int(f['seeds'])} x {int(f['n_init']) if pd.notna(f['n_init']) else 1}",
                    score(f["seed_agreement"]),
                    score(f["registered_agreement"]),
                    score(f["stability_mean"]),
                    f"{score(f['stability_ci_low'])} to {score(f['stability_ci_high'])}",
                    score(f["stability_p05"]),
                    f"{f['min_segment_jaccard']:.2f}",
                ],
            }
        )
    return rows


FINALIST_COLUMNS = (
    "segments",
    "reference silhouette (mean over seeds)",
    "own-space silhouette",
    "seeds x starts",
    "seed agreement (ARI)",
    "agreement with the registered fit",
    "stability (mean ARI)",
    "95% CI",
    "5th percentile",
    "weakest segment (Jaccard)",
)


def _economics_rows(
    profiles: SegmentProfiles, names: dict[int, SegmentName]
) -> list[dict[str, Any]]:
    order = profiles.sizes.sort_values("n", ascending=False, kind="stable").index
    return [{"id": int(s), "name": names[int(s)].name} for s in order]


def _repayment_rows(
    repayment: pd.DataFrame, profiles: SegmentProfiles, names: dict[int, SegmentName]
) -> list[dict[str, Any]]:
    rows = []
    order = profiles.sizes.sort_values("n", ascending=False, kind="stable").index
    for segment in (int(s) for s in order):
        for group in REPAYMENT_GROUPS:
            key = f"{segment}|{group}"
            if key not in repayment.index:
                continue
            r = repayment.loc[key]
            rows.append(
                {
                    "segment": names[segment].name,
                    "group": group,
                    "customers": f"{int(r['customers']):,}",
                    "revenue": money_range(r["revenue_low"], r["revenue_high"]),
                    "interest": money_range(r["interest_low"], r["interest_high"]),
                    "below_minimum": pct(r["below_minimum_share"]),
                    "stressed_balance": money(r["stressed_balance"]),
                }
            )
    return rows


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
    *,
    economics: Economics,
    repayment_economics: pd.DataFrame,
    baseline: Baseline,
    actions: dict[int, Action],
) -> dict[str, Any]:
    """Everything the template shows, computed from the inputs and the analysis results."""
    validation = inputs.validation
    chosen = _chosen_row(inputs.grid, inputs.chosen_cell_id)
    noise_share = float(profiles.sizes["share"].get(-1, 0.0))
    meta = dict(inputs.run_meta)
    finalists = inputs.finalists
    finalist = None
    if finalists is not None and not finalists.empty:
        match = finalists[finalists["cell_id"] == inputs.chosen_cell_id]
        finalist = match.iloc[0] if not match.empty else None
    quantities = build_quantities(
        profiles=profiles,
        economics=economics,
        actions=actions,
        baseline=baseline,
        explanation=explanation,
        chosen=chosen,
        finalist=finalist,
        segment_jaccard=inputs.segment_jaccard,
        grid=inputs.grid,
    )
    used_algorithms = set(inputs.grid["algorithm"].astype(str))
    used_sets = set(inputs.grid["feature_set"].astype(str))
    segments = _segment_entries(profiles, names, explanation, recommendations, actions, figures)
    return {
        "meta": meta,
        "q": quantities,
        "quantities": quantities,
        "is_synthetic": bool(meta.get("is_synthetic", False)),
        "n_customers": profiles.n_customers,
        "n_segments": len([s for s in profiles.segments if s != -1]),
        "noise_share": noise_share,
        "chosen": chosen,
        "finalist": finalist,
        "finalist_columns": FINALIST_COLUMNS,
        "finalist_rows": _finalist_rows(finalists),
        "finalists_table": []
        if finalists is None
        else finalists.drop(columns=["segment_jaccard"], errors="ignore").to_dict("records"),
        "fidelity": explanation.fidelity,
        "explanation": explanation,
        "top_importances": [(k, v) for k, v in explanation.importances.items() if v >= 0.01][:5],
        "segments": segments,
        "decisions": decisions(actions),
        "actions": [actions[s["id"]] for s in segments if s["id"] in actions],
        "economics_rows": _economics_rows(profiles, names),
        "assumptions": economics.assumptions,
        "high_utilisation": HIGH_UTILISATION,
        "trade_off": trade_off(economics, names),
        "repayment_rows": _repayment_rows(repayment_economics, profiles, names),
        "full_payer_share": FULL_PAYER_SHARE,
        "baseline": baseline,
        "baseline_verdict": verdict(baseline, chosen["reference_silhouette"]),
        "rule_text": RULE_TEXT,
        "rule_groups": RULE_GROUPS,
        "baseline_crosstab": [
            (names[int(s)].name, [int(v) for v in row]) for s, row in baseline.crosstab.iterrows()
        ],
        "variance_sources": list(baseline.variance_explained.columns),
        "variance_quantities": list(baseline.variance_explained.index),
        "robustness": inputs.robustness or [],
        "has_splits": "splits" in figures,
        "validation": validation,
        "rule_rows": _rule_rows(validation),
        "data_look": data_look,
        "column_stats": data_look.column_stats.reset_index(names="column").to_dict("records"),
        "feature_notes": list(inputs.feature_notes),
        "feature_sets": sorted(
            (k, v) for k, v in inputs.feature_set_descriptions.items() if k in used_sets
        ),
        "algorithms": sorted(
            (k, v) for k, v in inputs.algorithm_descriptions.items() if k in used_algorithms
        ),
        "engineered_columns": sorted(profiles.feature_zscores.columns),
        "log_scaled_features": list(profiles.log_scaled_features),
        "grid_cells": len(inputs.grid),
        "grid_eligible": int(inputs.grid["eligible"].sum()),
        "grid_metric_names": [m for m in GRID_METRICS if m in inputs.grid],
        "metric_labels": METRIC_LABELS,
        "grid_summary": grid_summary(inputs.grid),
        "selection_reasoning": inputs.selection_reasoning,
        "naming_rules": naming_rules_table(),
        "migration": migration,
        "limitations": limitations(
            inputs.clean, validation, profiles, quantities, explanation, meta
        ),
        "further_columns": FURTHER_COLUMNS,
        "further_approaches": FURTHER_APPROACHES,
        "figures": figures,
    }
