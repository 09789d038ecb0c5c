"""Per-customer behaviour traits, and the one way each quantity is summarised and written.

What a reader sees of a quantity is its engineered column (tasks/segmentation/features.py) under
a reader's label: one definition per quantity, so the report can never show two "installment
shares" computed two ways (0 for a customer without purchases in the features, undefined in the
naming traits: 0.19 and 0.49 once stood side by side on one card).

One statistic per quantity, too. Zero-heavy quantities (at least ZERO_HEAVY_SHARE of all customers
exactly 0, e.g. cash advance or the share of months paid in full) are summarised as the mean plus
the share of customers above 0, because their median is 0 for most segments and says nothing;
the others as the median.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ZERO_HEAVY_SHARE = 0.25


@dataclass(frozen=True)
class Trait:
    """A behaviour trait: how a reader calls it and how its values are written."""

    key: str
    label: str
    short: str  # the noun used when two segments differ only by this trait
    kind: str  # "amount", "share" or "ratio": decides how a value is formatted


TRAITS: tuple[Trait, ...] = (
    Trait("purchases_per_month", "purchases per month", "spend", "amount"),
    Trait("cash_advance_per_month", "cash advance per month", "cash use", "amount"),
    Trait("installment_share", "installment share of purchases", "installment use", "share"),
    Trait("utilisation", "credit utilisation (balance / limit)", "utilisation", "share"),
    Trait("full_payment_share", "share of months paid in full", "full payment", "share"),
    Trait("purchases_frequency", "share of months with a purchase", "purchase frequency", "share"),
    Trait(
        "cash_advance_frequency", "share of months with a cash advance", "cash frequency", "share"
    ),
    Trait("balance", "balance", "balance", "amount"),
    Trait("credit_limit", "credit limit", "credit limit", "amount"),
    Trait("payments_to_minimum", "payments / minimum payment", "repayment", "ratio"),
)
TRAIT_BY_KEY: dict[str, Trait] = {t.key: t for t in TRAITS}

# How every engineered column is written (traits included): amounts in whole units, counts per
# month with one decimal, shares with two, the payments-to-minimum multiple with one and an x.
_COUNT_COLUMNS = ("purchases_trx_per_month", "cash_advance_trx_per_month")
_RATIO_COLUMNS = ("payments_to_minimum",)
_AMOUNT_COLUMNS = (
    "balance",
    "credit_limit",
    "purchases_per_month",
    "oneoff_purchases_per_month",
    "installment_purchases_per_month",
    "cash_advance_per_month",
    "payments_per_month",
    "minimum_payments_per_month",
    "avg_purchase_ticket",
    "avg_cash_advance_ticket",
)


def quantity_kind(column: str) -> str:
    if column in _AMOUNT_COLUMNS:
        return "amount"
    if column in _COUNT_COLUMNS:
        return "count"
    if column in _RATIO_COLUMNS:
        return "ratio"
    return "share"


def _safe_ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """Ratio that is NaN where the denominator is zero or missing (undefined, not zero)."""
    ratio = numerator / denominator.where(denominator > 0)
    return ratio.astype("float64")


def behaviour_traits(clean: pd.DataFrame) -> pd.DataFrame:
    """The traits segment names are decided on, per customer, same row order as `clean`.

    Naming compares segment medians by population percentile, so a ratio with no denominator is
    undefined (NaN) here rather than 0: a zero-heavy column would put most segment medians on the
    edge of a tie block, and the name would flip with the sample. The numbers a reader sees are
    the engineered columns of the same names (`SegmentProfiles.feature_values`), one definition
    and one statistic each.
    """
    tenure = clean["TENURE"].astype("float64")
    split_total = clean["ONEOFF_PURCHASES"] + clean["INSTALLMENTS_PURCHASES"]
    return pd.DataFrame(
        {
            "purchases_per_month": clean["PURCHASES"] / tenure,
            "cash_advance_per_month": clean["CASH_ADVANCE"] / tenure,
            "installment_share": _safe_ratio(clean["INSTALLMENTS_PURCHASES"], split_total),
            "utilisation": _safe_ratio(clean["BALANCE"], clean["CREDIT_LIMIT"]),
            "full_payment_share": clean["PRC_FULL_PAYMENT"].astype("float64"),
            "purchases_frequency": clean["PURCHASES_FREQUENCY"].clip(upper=1.0),
            "cash_advance_frequency": clean["CASH_ADVANCE_FREQUENCY"].clip(upper=1.0),
            "balance": clean["BALANCE"].astype("float64"),
            "credit_limit": clean["CREDIT_LIMIT"].astype("float64"),
            "payments_to_minimum": _safe_ratio(clean["PAYMENTS"], clean["MINIMUM_PAYMENTS"]),
        },
        index=clean.index,
    )


def population_percentiles(population: pd.Series, values: list[float]) -> list[float]:
    """`population_percentile` of each of `values`, sorting the population once."""
    ordered = np.sort(population.dropna().to_numpy())
    result = []
    for value in values:
        if ordered.size == 0 or not np.isfinite(value):
            result.append(0.5)
            continue
        below = np.searchsorted(ordered, value, side="left")
        at_or_below = np.searchsorted(ordered, value, side="right")
        result.append(float((below + at_or_below) / (2 * ordered.size)))
    return result


def population_percentile(population: pd.Series, value: float) -> float:
    """Mid-rank percentile of `value` in `population` (NaN ignored), in [0, 1].

    Mid-rank so that a value equal to a large block of ties (the many zeros) sits in the middle
    of the block instead of at its top or bottom.
    """
    return population_percentiles(population, [value])[0]


def zero_heavy(population: pd.DataFrame) -> dict[str, bool]:
    """Per column: at least ZERO_HEAVY_SHARE of all customers are exactly 0."""
    return {c: bool((population[c] == 0).mean() >= ZERO_HEAVY_SHARE) for c in population.columns}


def statistics(population: pd.DataFrame) -> dict[str, str]:
    """The statistic each column is summarised by: "mean" when zero-heavy, else "median"."""
    return {c: "mean" if heavy else "median" for c, heavy in zero_heavy(population).items()}


def format_value(column: str, value: float) -> str:
    """A value of an engineered column (or trait) the way a business reader writes it."""
    if not np.isfinite(value):
        return "n/a"
    kind = TRAIT_BY_KEY[column].kind if column in TRAIT_BY_KEY else quantity_kind(column)
    if kind == "share":
        return f"{value:.2f}"
    if kind == "ratio":
        return f"{value:.1f}x"
    if kind == "count":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def format_trait(key: str, value: float) -> str:
    """A trait value the way a business reader writes it (same rules as every column)."""
    return format_value(key, value)


def describe_value(column: str, value: float, statistic: str, nonzero: float | None) -> str:
    """The text a report shows for one segment's value: "0.31 mean, 42% above 0" or "0.31"."""
    text = format_value(column, value)
    if statistic == "mean" and nonzero is not None and np.isfinite(nonzero):
        return f"{text} mean, {nonzero:.0%} above 0"
    return text
