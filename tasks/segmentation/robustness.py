"""Do the chosen segments survive other reasonable preprocessing? Refit, compare, report the ARI.

Each variant changes one decision of the feature step (tasks/segmentation/features.py) by changing
the data it is given, refits the chosen configuration (same feature set, algorithm, k, seed and
the finalists' number of starts) and compares the new labels with the chosen ones on the
customers both cover (adjusted Rand index: 1 = same segments, 0 = no better than chance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from schemas.columns import AMOUNT_COLUMNS
from tasks.segmentation.finalists import finalist_params
from tasks.segmentation.fit import make_cell_pipeline
from tasks.segmentation.grid import GridCell

TOP_SHARE = 0.01
WINSOR_QUANTILE = 0.99
TOP_COLUMNS = ("BALANCE", "PURCHASES", "CASH_ADVANCE", "PAYMENTS", "CREDIT_LIMIT")


@dataclass(frozen=True)
class VariantResult:
    """One preprocessing variant: what it changes, on how many customers, and the agreement."""

    key: str
    title: str
    change: str
    customers: int
    ari: float


Variant = Callable[[pd.DataFrame], tuple[pd.DataFrame, str]]


def _nulls_by_median(clean: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    frame = clean.copy()
    minimum = frame["MINIMUM_PAYMENTS"].median()
    limit = frame["CREDIT_LIMIT"].median()
    missing = int(frame["MINIMUM_PAYMENTS"].isna().sum() + frame["CREDIT_LIMIT"].isna().sum())
    frame["MINIMUM_PAYMENTS"] = frame["MINIMUM_PAYMENTS"].fillna(minimum)
    frame["CREDIT_LIMIT"] = frame["CREDIT_LIMIT"].fillna(limit)
    return frame, (
        f"empty MINIMUM_PAYMENTS and CREDIT_LIMIT ({missing:,} cells) filled with the column "
        "median instead of by meaning (0 for non-payers, the balance decile's median minimum)"
    )


def _no_tenure_normalisation(clean: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    frame = clean.copy()
    short = int((frame["TENURE"] < 12).sum())
    frame["TENURE"] = 12
    return frame, f"amounts not divided by tenure ({short:,} customers have fewer than 12 months)"


def _full_window_only(clean: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    frame = clean[clean["TENURE"] == clean["TENURE"].max()]
    return frame, f"only the {len(frame):,} customers observed for the full window"


def _utilisation_capped(clean: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    frame = clean.copy()
    over = frame["BALANCE"] > frame["CREDIT_LIMIT"]
    frame.loc[over, "BALANCE"] = frame.loc[over, "CREDIT_LIMIT"]
    return frame, f"utilisation capped at 1 instead of 1.5 ({int(over.sum()):,} balances cut)"


def _winsorised(clean: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    frame = clean.copy()
    columns = list(AMOUNT_COLUMNS)
    caps = frame[columns].quantile(WINSOR_QUANTILE)
    changed = int((frame[columns] > caps).to_numpy().sum())
    frame[columns] = frame[columns].clip(upper=caps, axis=1)
    return frame, (
        f"every amount capped at its {WINSOR_QUANTILE:.0%} percentile ({changed:,} values) "
        "instead of kept and compressed by log1p"
    )


def _top_removed(clean: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    caps = clean[list(TOP_COLUMNS)].quantile(1 - TOP_SHARE)
    top = (clean[list(TOP_COLUMNS)] > caps).any(axis=1)
    return clean[~top], (
        f"the top {TOP_SHARE:.0%} on any of {', '.join(TOP_COLUMNS)} removed "
        f"({int(top.sum()):,} customers)"
    )


VARIANTS: tuple[tuple[str, str, Variant], ...] = (
    ("nulls_by_median", "Another null treatment", _nulls_by_median),
    ("no_tenure", "No tenure normalisation", _no_tenure_normalisation),
    ("full_window", "12-month customers only", _full_window_only),
    ("utilisation_cap", "Utilisation capped at 1", _utilisation_capped),
    ("winsorised", "Amounts capped at the 99th percentile", _winsorised),
    ("top_removed", "Top 1 % removed", _top_removed),
)


def robustness(
    cell: GridCell,
    clean: pd.DataFrame,
    labels: np.ndarray,
    *,
    n_init: int = 10,
    max_threads: int | None = 1,
) -> list[VariantResult]:
    """The ARI between the chosen labels and a refit under each variant, on the rows it keeps."""
    clean = clean.reset_index(drop=True)
    labels = np.asarray(labels)
    results = []
    with threadpool_limits(limits=max_threads):
        for key, title, variant in VARIANTS:
            frame, change = variant(clean)
            pipeline = make_cell_pipeline(cell, params=finalist_params(cell, n_init))
            found = np.asarray(pipeline.fit(frame).predict(frame))
            ari = float(adjusted_rand_score(labels[frame.index.to_numpy()], found))
            results.append(VariantResult(key, title, change, len(frame), ari))
    return results
