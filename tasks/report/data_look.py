"""The data's quirks, measured on the clean frame, and how the pipeline handled each one."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from schemas.columns import AMOUNT_COLUMNS, FREQUENCY_COLUMNS, NUMERIC_COLUMNS
from schemas.raw import breaks_soft_rule

SKEWED = 2.0  # |skewness| above this: a log or rank transform is worth it
OUTLIER_IQRS = 3.0  # "far out" fence, on the non-zero values of an amount


@dataclass(frozen=True)
class Quirk:
    """A property of the data that a modeller must deal with, its size, and what was done."""

    key: str
    title: str
    finding: str
    handling: str
    rows: int | None  # customers concerned, when the quirk is about rows


@dataclass(frozen=True)
class DataLook:
    """Column statistics, tenure distribution and the list of quirks."""

    column_stats: pd.DataFrame  # index column; skewness, zero_share, missing, median, p99, max
    tenure_counts: dict[int, int]
    quirks: list[Quirk]


def column_stats(clean: pd.DataFrame) -> pd.DataFrame:
    numbers = clean[list(NUMERIC_COLUMNS)].astype("float64")
    return pd.DataFrame(
        {
            "skewness": numbers.skew(),
            "zero_share": (numbers == 0).mean(),
            "missing": numbers.isna().sum().astype("int64"),
            "median": numbers.median(),
            "p99": numbers.quantile(0.99),
            "max": numbers.max(),
        }
    )


def far_outliers(values: pd.Series) -> int:
    """Non-zero values beyond Q3 + 3 IQR of the non-zero values (zeros are their own quirk)."""
    positive = values[values > 0].dropna()
    if positive.empty:
        return 0
    q1, q3 = positive.quantile([0.25, 0.75])
    return int((positive > q3 + OUTLIER_IQRS * (q3 - q1)).sum())


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _skew_finding(clean: pd.DataFrame, stats: pd.DataFrame) -> tuple[str, int | None]:
    skewed = stats[stats["skewness"].abs() > SKEWED].sort_values("skewness", ascending=False)
    top = ", ".join(f"{c} {s:.1f}" for c, s in skewed["skewness"].head(3).items())
    return (
        f"{len(skewed)} of {len(stats)} numeric columns have |skewness| > {SKEWED:g} "
        f"(strongest: {top or 'none'}).",
        None,
    )


def _zero_finding(clean: pd.DataFrame, stats: pd.DataFrame) -> tuple[str, int | None]:
    shares = stats.loc[["PURCHASES", "ONEOFF_PURCHASES", "INSTALLMENTS_PURCHASES", "CASH_ADVANCE"]]
    parts = ", ".join(f"{c} {s:.1%}" for c, s in shares["zero_share"].items())
    full = (clean["PRC_FULL_PAYMENT"] == 0).mean()
    return f"Share of zeros: {parts}; PRC_FULL_PAYMENT is 0 for {full:.1%}.", None


def _minimum_missing(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    missing = breaks_soft_rule(clean, "minimum_payments_missing")
    no_payment = int((missing & (clean["PAYMENTS"] == 0)).sum())
    n = int(missing.sum())
    return (
        f"MINIMUM_PAYMENTS is empty for {n:,} customers; {no_payment:,} of them made no payment "
        f"at all (PAYMENTS == 0) and {n - no_payment:,} paid something.",
        n,
    )


def _limit_missing(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    n = int(breaks_soft_rule(clean, "credit_limit_missing").sum())
    return f"CREDIT_LIMIT is empty for {n:,} customer(s).", n


def _frequency_above_one(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    frequencies = clean[list(FREQUENCY_COLUMNS)]
    above = breaks_soft_rule(clean, "frequency_above_one")
    high = frequencies[frequencies > 1.0].stack()
    span = f" (values {high.min():.2f}-{high.max():.2f})" if len(high) else ""
    return f"{int(above.sum()):,} customers have a frequency above 1{span}.", int(above.sum())


def _split_mismatch(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    gap = (clean["PURCHASES"] - clean["ONEOFF_PURCHASES"] - clean["INSTALLMENTS_PURCHASES"]).abs()
    bad = breaks_soft_rule(clean, "purchases_split_mismatch")
    worst = f"; largest gap {gap[bad].max():,.2f}" if bad.any() else ""
    return (
        f"PURCHASES differs from ONEOFF_PURCHASES + INSTALLMENTS_PURCHASES for "
        f"{int(bad.sum()):,} customers{worst}.",
        int(bad.sum()),
    )


def _subfrequency(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    n = int(breaks_soft_rule(clean, "subfrequency_above_purchases_frequency").sum())
    return f"{n:,} customers have a one-off or installment frequency above PURCHASES_FREQUENCY.", n


def _over_limit(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    ratio = clean["BALANCE"] / clean["CREDIT_LIMIT"]
    n = int(breaks_soft_rule(clean, "balance_over_limit").sum())
    return (
        f"BALANCE exceeds CREDIT_LIMIT for {n:,} customers ({_pct(n, len(clean))}); "
        f"highest balance / limit {ratio.max():.2f}.",
        n,
    )


def _below_minimum(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    n = int(breaks_soft_rule(clean, "minimum_payment_above_payments").sum())
    return (
        f"MINIMUM_PAYMENTS exceeds PAYMENTS for {n:,} customers ({_pct(n, len(clean))}): "
        "they paid less than the minimum due.",
        n,
    )


def _transactions(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    amount_no_trx = int(((clean["PURCHASES"] > 0) & (clean["PURCHASES_TRX"] == 0)).sum())
    trx_no_amount = int(((clean["PURCHASES"] == 0) & (clean["PURCHASES_TRX"] > 0)).sum())
    return (
        f"{amount_no_trx:,} customers have purchases but no purchase transaction and "
        f"{trx_no_amount:,} have transactions but no purchase amount.",
        amount_no_trx + trx_no_amount,
    )


def _tenure(clean: pd.DataFrame, _: pd.DataFrame) -> tuple[str, int | None]:
    counts = clean["TENURE"].value_counts()
    longest = int(clean["TENURE"].max())
    n_long = int(counts.get(longest, 0))
    rest = clean.loc[clean["TENURE"] < longest, "TENURE"]
    span = f"; the rest have {rest.min()}-{rest.max()} months" if len(rest) else ""
    return f"{n_long:,} customers ({_pct(n_long, len(clean))}) have {longest} months{span}.", None


def _outliers(clean: pd.DataFrame, stats: pd.DataFrame) -> tuple[str, int | None]:
    counts = {c: far_outliers(clean[c]) for c in AMOUNT_COLUMNS}
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    ratio = (stats.loc[list(AMOUNT_COLUMNS), "max"] / stats.loc[list(AMOUNT_COLUMNS), "p99"]).max()
    listing = ", ".join(f"{c} {n:,}" for c, n in top)
    return (
        f"Far outliers (non-zero values beyond Q3 + {OUTLIER_IQRS:g} IQR): {listing}; "
        f"the largest maximum is {ratio:.1f}x its column's 99th percentile.",
        None,
    )


Finding = Callable[[pd.DataFrame, pd.DataFrame], tuple[str, int | None]]

# key, title, finding, the pattern that marks a feature note as handling it, default handling.
# One note is one decision (the feature step writes them so); a note can handle several quirks.
_QUIRKS: tuple[tuple[str, str, Finding, str, str], ...] = (
    ("skew", "Heavy right skew", _skew_finding, r"skew|log1p|\blog\b|quantile|rank",
     "Recorded; no transform was noted by the feature step."),
    ("zeros", "Many exact zeros", _zero_finding, r"\bzeros?\b|indicator",
     "Zeros are kept as real behaviour (no purchase, no cash advance)."),
    ("minimum_missing", "MINIMUM_PAYMENTS empty", _minimum_missing,
     r"minimum_payments\b.*\b(empty|missing|nan|null)|\b(empty|missing|nan|null)\b.*minimum_pay",
     "Kept in the clean data as a soft finding (rule minimum_payments_missing)."),
    ("limit_missing", "CREDIT_LIMIT empty", _limit_missing,
     r"credit_limit\b.*\b(empty|missing|nan|null)|\b(empty|missing|nan|null)\b.*credit_limit",
     "Kept in the clean data as a soft finding (rule credit_limit_missing)."),
    ("frequency_above_one", "Frequencies above 1", _frequency_above_one, r"frequenc",
     "Kept as a soft finding (rule frequency_above_one); frequencies are capped at 1 in traits."),
    ("split_mismatch", "Purchase split does not add up", _split_mismatch,
     r"\bsplit\b|disagree|oneoff_purchases \+",
     "Kept as a soft finding (rule purchases_split_mismatch)."),
    ("subfrequency", "Sub-frequency above purchase frequency", _subfrequency, r"sub-?frequenc",
     "Kept as a soft finding (rule subfrequency_above_purchases_frequency)."),
    ("over_limit", "Balance over the credit limit", _over_limit,
     r"utili[sz]ation|over (their |the )?(credit )?limit|over-limit",
     "Kept as a soft finding (rule balance_over_limit): over-limit balances are real."),
    ("below_minimum", "Paid less than the minimum", _below_minimum,
     r"(below|less than) the minimum|payments?[_ ]to[_ ]minimum",
     "Kept as a soft finding (rule minimum_payment_above_payments): a delinquency signal."),
    ("transactions", "Amounts without transactions", _transactions, r"ticket sizes",
     "Kept as a soft finding (rule purchases_without_transactions)."),
    ("tenure", "Unequal observation windows", _tenure, r"tenure|per.month",
     "Recorded; the traits divide amounts by TENURE."),
    ("outliers", "Extreme amounts", _outliers, r"outlier|clip|winsori[sz]|\bcap(ped)?\b|\btails?\b",
     "Kept: extreme amounts are real customers; no clipping was noted by the feature step."),
)  # fmt: skip


def _handling(notes: list[str], pattern: str, default: str) -> str:
    matcher = re.compile(pattern, re.IGNORECASE | re.DOTALL)
    matched = [note for note in notes if matcher.search(note)]
    return " ".join(matched) if matched else default


def look_at_data(clean: pd.DataFrame, feature_notes: list[str]) -> DataLook:
    """Measure every quirk on `clean`; take each one's handling from the feature notes."""
    stats = column_stats(clean)
    quirks = []
    for key, title, finding, pattern, default in _QUIRKS:
        text, rows = finding(clean, stats)
        quirks.append(Quirk(key, title, text, _handling(feature_notes, pattern, default), rows))
    tenure = clean["TENURE"].value_counts().sort_index()
    return DataLook(
        column_stats=stats,
        tenure_counts={int(k): int(v) for k, v in tenure.items()},
        quirks=quirks,
    )
