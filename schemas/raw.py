"""The CC GENERAL data contract: hard rules (row to quarantine), soft rules (row kept, counted).

Every rule carries a one-line why; the tier of each was decided from the real file
(`../shared/data/cc_general.csv`, 8,950 rows): nothing there breaks a hard rule, while each soft
rule matches real rows whose other values are coherent, so those rows are kept and reported.

The hard tier is one Pandera schema run lazily over the typed frame: its `failure_cases` (row index,
column, check name) become the quarantine reasons. The soft tier is a second schema of frame-wide
checks whose failures are only counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from schemas.columns import (
    AMOUNT_COLUMNS,
    COUNT_COLUMNS,
    CUST_ID,
    FREQUENCY_COLUMNS,
    NULLABLE_COLUMNS,
    NUMERIC_COLUMNS,
    SHARE_COLUMNS,
)

Tier = Literal["hard", "soft"]

# A frequency is a share of months; the real file's worst over-run is 1.5 (9 months counted over 6
# months of tenure, a counting quirk of the source). Twice the period is beyond any such artefact.
# Ids as the hard schema judges them: Arrow text, hashed and stripped in C++ (Pandera checks
# `str` by calling isinstance on every value: 2 s at 10M rows). The clean frame's CUST_ID is
# plain `object` text (CLEAN_DTYPES), as every caller of the clean frame expects.
ARROW_TEXT = pd.StringDtype("pyarrow")

FREQUENCY_HARD_MAX = 2.0
# Purchases are stored to the cent; a split off by more than one currency unit is not rounding.
PURCHASE_SPLIT_TOLERANCE = 1.0
MAX_TENURE_MONTHS = 12
# About 270 transactions a day for a year; the real maximum is 358 in a year. Also keeps every
# count far inside int64, so the clean frame's integer columns can never wrap around.
MAX_TRANSACTIONS = 100_000


@dataclass(frozen=True)
class Rule:
    """A named data rule with its tier and the reason it exists."""

    name: str
    tier: Tier
    why: str


_RULES: tuple[Rule, ...] = (
    # Structural hard rules, found while reading the text (tasks/data/ingest.py).
    Rule(
        "field_count", "hard", "A line with more or fewer fields than the header cannot be aligned."
    ),
    Rule("repeated_header", "hard", "A header line inside the data is a concatenation artefact."),
    Rule("duplicate_row", "hard", "An exact copy of an earlier row would count a customer twice."),
    # Value hard rules, checked by HARD_SCHEMA below.
    Rule("cust_id_missing", "hard", "A row without a customer id cannot be joined or acted on."),
    Rule(
        "cust_id_duplicated",
        "hard",
        "Two different rows for one customer: no way to know which one is right.",
    ),
    Rule("not_a_number", "hard", "Text in a numeric column has no numeric meaning."),
    Rule("missing_value", "hard", "Only CREDIT_LIMIT and MINIMUM_PAYMENTS may be empty."),
    Rule("not_finite", "hard", "Infinity is not an amount, a share or a count."),
    Rule("negative_value", "hard", "Amounts, counts and frequencies cannot be below zero."),
    Rule(
        "frequency_out_of_range",
        "hard",
        f"A share of months above {FREQUENCY_HARD_MAX:g} is not a counting quirk but corruption.",
    ),
    Rule("share_out_of_range", "hard", "PRC_FULL_PAYMENT is a share of months: 0 to 1."),
    Rule("count_not_whole", "hard", "Transaction counts and tenure are whole numbers."),
    Rule(
        "count_out_of_range",
        "hard",
        f"More than {MAX_TRANSACTIONS:,} transactions in a year is corruption, not a customer.",
    ),
    Rule(
        "tenure_out_of_range",
        "hard",
        f"Tenure is 1 to {MAX_TENURE_MONTHS} months in a 12-month observation window.",
    ),
    Rule("credit_limit_not_positive", "hard", "A card always has a positive credit limit."),
    # Soft rules: suspicious but plausible in card data; the row stays and the finding is counted.
    Rule(
        "frequency_above_one",
        "soft",
        "8 real rows have CASH_ADVANCE_FREQUENCY 1.09-1.5 with coherent counts: a source quirk; "
        "features cap it at 1.",
    ),
    Rule(
        "purchases_split_mismatch",
        "soft",
        "PURCHASES should equal one-off + installment purchases; 19 real rows differ, "
        "likely refunds or reversals booked on one side.",
    ),
    Rule(
        "subfrequency_above_purchases_frequency",
        "soft",
        "One-off or installment frequency above overall purchase frequency is inconsistent "
        "but small (19 real rows).",
    ),
    Rule(
        "balance_over_limit",
        "soft",
        "Over-limit balances happen (fees, interest, allowed overdraft): 227 real rows.",
    ),
    Rule(
        "minimum_payment_above_payments",
        "soft",
        "Paying less than the minimum is a real and telling behaviour (delinquency signal).",
    ),
    Rule(
        "purchases_without_transactions",
        "soft",
        "A purchase amount with zero purchase transactions (or the reverse) points to "
        "reversals or posting lags.",
    ),
    Rule(
        "cash_advance_count_mismatch",
        "soft",
        "A cash-advance amount without cash-advance transactions (or the reverse) is inconsistent.",
    ),
    Rule(
        "credit_limit_missing",
        "soft",
        "The limit is unknown for this customer; features impute it, the row is otherwise usable.",
    ),
    Rule(
        "minimum_payments_missing",
        "soft",
        "No minimum payment recorded, mostly for customers who paid nothing; features treat "
        "it by meaning.",
    ),
)

RULES: dict[str, Rule] = {rule.name: rule for rule in _RULES}
HARD_RULES: tuple[str, ...] = tuple(r.name for r in _RULES if r.tier == "hard")
SOFT_RULES: tuple[str, ...] = tuple(r.name for r in _RULES if r.tier == "soft")


def _check(name: str, ok: Callable[..., pd.Series]) -> pa.Check:
    """A vectorised check named after its rule (Pandera reports built-ins by their own names)."""
    return pa.Check(ok, name=name, element_wise=False)


def _finite_check(name: str, ok: Callable[[pd.Series], pd.Series]) -> pa.Check:
    """A range check that leaves infinities to `not_finite`, so each cell names one cause."""
    return _check(name, lambda s: ok(s) | ~np.isfinite(s))


def _column_checks(column: str) -> list[pa.Check]:
    """Hard value checks for one numeric column; NaN cells are skipped (nullability is separate)."""
    checks = [
        _check("not_finite", np.isfinite),
        _finite_check("negative_value", lambda s: s >= 0),
    ]
    if column in FREQUENCY_COLUMNS:
        checks.append(_finite_check("frequency_out_of_range", lambda s: s <= FREQUENCY_HARD_MAX))
    if column in SHARE_COLUMNS:
        checks.append(_finite_check("share_out_of_range", lambda s: s <= 1))
    if column in COUNT_COLUMNS:
        checks.append(_finite_check("count_not_whole", lambda s: s == np.floor(s)))
    if column in ("CASH_ADVANCE_TRX", "PURCHASES_TRX"):
        checks.append(_finite_check("count_out_of_range", lambda s: s <= MAX_TRANSACTIONS))
    if column == "TENURE":
        checks.append(
            _finite_check("tenure_out_of_range", lambda s: s.between(1, MAX_TENURE_MONTHS))
        )
    if column == "CREDIT_LIMIT":
        checks.append(_finite_check("credit_limit_not_positive", lambda s: s > 0))
    return checks


HARD_SCHEMA = pa.DataFrameSchema(
    {
        CUST_ID: pa.Column(ARROW_TEXT, nullable=False, unique=True),
        **{
            column: pa.Column(
                float, checks=_column_checks(column), nullable=column in NULLABLE_COLUMNS
            )
            for column in NUMERIC_COLUMNS
        },
    },
    strict=False,
    name="cc_general_hard",
)

# Pandera names its built-in failures; map them onto our rule names.
PANDERA_CHECK_TO_RULE: dict[str, str] = {
    "not_nullable": "missing_value",
    "field_uniqueness": "cust_id_duplicated",
}


def _frequency_at_most_one(df: pd.DataFrame) -> pd.Series:
    return (df[list(FREQUENCY_COLUMNS)] <= 1).all(axis=1)


def _purchase_split_adds_up(df: pd.DataFrame) -> pd.Series:
    gap = df["PURCHASES"] - df["ONEOFF_PURCHASES"] - df["INSTALLMENTS_PURCHASES"]
    return gap.abs() <= PURCHASE_SPLIT_TOLERANCE


def _subfrequencies_within_purchases(df: pd.DataFrame) -> pd.Series:
    # Frequencies are stored to six decimals; allow that rounding.
    ceiling = df["PURCHASES_FREQUENCY"] + 1e-6
    return (df["ONEOFF_PURCHASES_FREQUENCY"] <= ceiling) & (
        df["PURCHASES_INSTALLMENTS_FREQUENCY"] <= ceiling
    )


def _balance_within_limit(df: pd.DataFrame) -> pd.Series:
    return ~(df["BALANCE"] > df["CREDIT_LIMIT"])


def _minimum_within_payments(df: pd.DataFrame) -> pd.Series:
    return ~(df["MINIMUM_PAYMENTS"] > df["PAYMENTS"])


def _purchases_match_transactions(df: pd.DataFrame) -> pd.Series:
    return (df["PURCHASES"] > 0) == (df["PURCHASES_TRX"] > 0)


def _cash_advance_matches_transactions(df: pd.DataFrame) -> pd.Series:
    return (df["CASH_ADVANCE"] > 0) == (df["CASH_ADVANCE_TRX"] > 0)


# Each soft rule as a row predicate (True: the row is fine). The report's data section counts its
# quirks with these same predicates, so its figures always equal the rule counts.
SOFT_ROW_CHECKS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "frequency_above_one": _frequency_at_most_one,
    "purchases_split_mismatch": _purchase_split_adds_up,
    "subfrequency_above_purchases_frequency": _subfrequencies_within_purchases,
    "balance_over_limit": _balance_within_limit,
    "minimum_payment_above_payments": _minimum_within_payments,
    "purchases_without_transactions": _purchases_match_transactions,
    "cash_advance_count_mismatch": _cash_advance_matches_transactions,
    "credit_limit_missing": lambda df: df["CREDIT_LIMIT"].notna(),
    "minimum_payments_missing": lambda df: df["MINIMUM_PAYMENTS"].notna(),
}


def breaks_soft_rule(df: pd.DataFrame, rule: str) -> pd.Series:
    """True for the rows of `df` that break the soft rule named `rule`."""
    return ~SOFT_ROW_CHECKS[rule](df).astype(bool)


SOFT_SCHEMA = pa.DataFrameSchema(
    checks=[_check(name, ok) for name, ok in SOFT_ROW_CHECKS.items()],
    name="cc_general_soft",
)

assert {c.name for c in SOFT_SCHEMA.checks} == set(SOFT_RULES), "every soft rule has one check"

# The clean frame's dtypes: counts become integers once the hard rules have proven them whole.
CLEAN_DTYPES: dict[str, str] = {
    CUST_ID: "object",
    **{c: "float64" for c in AMOUNT_COLUMNS + FREQUENCY_COLUMNS + SHARE_COLUMNS},
    **{c: "int64" for c in COUNT_COLUMNS},
}
