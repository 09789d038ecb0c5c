"""Per-customer behaviour traits from raw columns: the common vocabulary of naming and advice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def _safe_ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """Ratio that is NaN where the denominator is zero or missing (undefined, not zero)."""
    ratio = numerator / denominator.where(denominator > 0)
    return ratio.astype("float64")


def behaviour_traits(clean: pd.DataFrame) -> pd.DataFrame:
    """Traits per customer, same row order as `clean`; NaN where a trait is undefined.

    Amounts are divided by TENURE so a 6-month customer is comparable with a 12-month one;
    frequencies are capped at 1 because the source counts a few cash advances twice.
    """
    tenure = clean["TENURE"].astype("float64")
    split_total = clean["ONEOFF_PURCHASES"] + clean["INSTALLMENTS_PURCHASES"]
    traits = pd.DataFrame(
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
    return traits


def population_percentile(population: pd.Series, value: float) -> float:
    """Mid-rank percentile of `value` in `population` (NaN ignored), in [0, 1].

    Mid-rank so that a value equal to a large block of ties (the many zeros) sits in the middle
    of the block instead of at its top or bottom.
    """
    values = population.dropna().to_numpy()
    if values.size == 0 or not np.isfinite(value):
        return 0.5
    below = np.count_nonzero(values < value)
    at_or_below = np.count_nonzero(values <= value)
    return float((below + at_or_below) / (2 * values.size))


def format_trait(key: str, value: float) -> str:
    """A trait value the way a business reader writes it."""
    if not np.isfinite(value):
        return "n/a"
    kind = TRAIT_BY_KEY[key].kind
    if kind == "share":
        return f"{value:.2f}"
    if kind == "ratio":
        return f"{value:.1f}x"
    return f"{value:,.0f}"
