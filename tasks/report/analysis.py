"""The report's analysis results as plain JSON, for readers other than the HTML (the notebook).

Written beside the HTML and logged with it, so the notebook shows the numbers the report computed
instead of computing them again.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from tasks.report.build import Report

ANALYSIS_FILE = "analysis.json"


def _table(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """{row: {column: value}} with JSON-safe keys and NaN as null."""
    frame = frame.astype(object).where(frame.notna(), None)
    return {str(row): values for row, values in frame.to_dict(orient="index").items()}


def analysis_record(report: Report) -> dict[str, Any]:
    """Data quirks, segment names and profiles, recommendations and limitations, by segment id."""
    profiles = report.profiles
    return {
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
        "trait_medians": _table(profiles.trait_medians),
        "population_trait_medians": profiles.population_trait_medians.to_dict(),
        "portfolio_shares": _table(profiles.totals),
        "distinguishing": {
            str(segment): [asdict(item) for item in items]
            for segment, items in profiles.distinguishing.items()
        },
        "recommendations": {
            str(segment): asdict(advice) for segment, advice in report.recommendations.items()
        },
        "limitations": list(report.limitations),
    }


def analysis_json(report: Report) -> str:
    return json.dumps(analysis_record(report), indent=2, allow_nan=False)
