"""The report's analysis results as plain JSON, for readers other than the HTML (the notebook).

Written beside the HTML and logged with it, so the notebook shows the numbers the report computed
instead of computing them again.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from tasks.report.build import Report

ANALYSIS_FILE = "analysis.json"


def _table(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """{row: {column: value}} with JSON-safe keys and NaN as null."""
    frame = frame.astype(object).where(frame.notna(), None)
    return {str(row): values for row, values in frame.to_dict(orient="index").items()}


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to None, dict keys to strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def analysis_record(report: Report) -> dict[str, Any]:
    """Everything the report computed, by segment id: what the notebook shows instead of
    recomputing. `quantities` holds the exact text of every number the HTML shows."""
    profiles = report.profiles
    context = report.context
    finalists = context.get("finalist_rows") and report.context["finalists_table"]
    return _plain(
        {
            "quirks": [asdict(quirk) for quirk in report.data_look.quirks],
            "column_stats": _table(report.data_look.column_stats),
            "segments": {
                str(segment): {
                    "name": named.name,
                    "archetype": named.archetype,
                    "customers": int(profiles.sizes.at[segment, "n"]),
                    "share": float(profiles.sizes.at[segment, "share"]),
                }
                for segment, named in sorted(report.names.items())
            },
            "statistic": profiles.feature_statistic,
            "segment_values": _table(profiles.feature_values),
            "population_values": profiles.population_feature_values.to_dict(),
            "segment_nonzero": _table(profiles.feature_nonzero),
            "portfolio_shares": _table(profiles.totals),
            "distinguishing": {
                str(segment): [asdict(item) for item in items]
                for segment, items in profiles.distinguishing.items()
            },
            "recommendations": {
                str(segment): {
                    "name": advice.name,
                    "headline": advice.headline,
                    "meaning": advice.meaning,
                }
                for segment, advice in report.recommendations.items()
            },
            "actions": {
                str(segment): {
                    "name": action.segment_name,
                    "title": action.title,
                    "target": action.target,
                    "customers": action.customers,
                    "assumption": action.assumption,
                    "effect_low": action.effect_low,
                    "effect_high": action.effect_high,
                    "metric": action.test.metric,
                    "baseline": action.test.baseline,
                    "minimum_effect": action.test.minimum_effect,
                    "per_arm": action.test.per_arm,
                    "feasible": action.test.feasible,
                }
                for segment, action in report.actions.items()
            },
            "decisions": [a.segment for a in context.get("decisions", [])],
            "assumptions": [asdict(a) for a in report.economics.assumptions],
            "economics": _table(report.economics.by_group),
            "portfolio_economics": report.economics.portfolio.to_dict(),
            "repayment_economics": _table(report.repayment_economics),
            "baseline": {
                "agreement_ari": report.baseline.agreement_ari,
                "rule_reference_silhouette": report.baseline.rule_reference_silhouette,
                "rule_model_silhouette": report.baseline.rule_model_silhouette,
                "variance_explained": _table(report.baseline.variance_explained),
                "crosstab": _table(report.baseline.crosstab),
            },
            "finalists": finalists or [],
            "robustness": [asdict(v) for v in context.get("robustness", [])],
            "trade_off": context.get("trade_off", ""),
            "split_sentence": context.get("split_sentence", ""),
            "baseline_verdict": context.get("baseline_verdict", ""),
            "quantities": report.quantities,
            "limitations": list(report.limitations),
        }
    )


def analysis_json(report: Report) -> str:
    return json.dumps(analysis_record(report), indent=2, allow_nan=False)
