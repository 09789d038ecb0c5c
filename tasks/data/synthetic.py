"""Synthetic CC-GENERAL-shaped customers with planted segments, for tests, benchmarks and newcomers.

Each segment is a behaviour profile read off the real file's structure (which columns are zero
together, which move together): months with activity are drawn first, then counts and amounts
follow from them, so frequencies are whole months over tenure (as in the real data), counts never
fall below active months, and PURCHASES is the sum of its split. Amounts are lognormal (the real
file's heavy right skew) and zero-inflated by segment. A small share of rows carries the real
file's soft anomalies; no row breaks a hard rule of `schemas/raw.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from core.errors import ParameterError
from schemas.columns import CUST_ID, RAW_COLUMNS

SEGMENTS: tuple[str, ...] = (
    "transactor",  # buys often, mostly one-off, pays in full, low balance
    "revolver",  # buys, carries a high balance, rarely pays in full
    "cash_advance_heavy",  # frequent cash advances, few purchases, high balance
    "installment_buyer",  # small regular installment purchases, moderate balance
    "dormant",  # little activity of any kind, small balance, often no payment
)

# One row per behaviour parameter, one value per segment in SEGMENTS order. Shares are unequal on
# purpose, as real segments are. Activity shares and medians were set so that zero shares, medians
# and co-movements land near the real file's while each segment keeps its own signature.
SEGMENT_PARAMETERS: dict[str, tuple[float, ...]] = {
    #                        trans.  revolv. cash    instal. dormant
    "share":                 (0.18,  0.20,   0.27,   0.23,   0.12),
    "credit_limit":          (5500,  4000,   3500,   2500,   2000),   # median limit
    # Share of the segment with any one-off / installment purchase / cash advance at all.
    "oneoff_active":         (1.00,  0.95,   0.15,   0.15,   0.40),
    "installment_active":    (0.60,  0.50,   0.12,   1.00,   0.30),
    "cash_active":           (0.25,  0.30,   1.00,   0.25,   0.40),
    # Chance of activity in each further month, once active (the first month is certain).
    "oneoff_rate":           (0.70,  0.35,   0.10,   0.15,   0.10),
    "installment_rate":      (0.45,  0.20,   0.10,   0.85,   0.10),
    "cash_rate":             (0.00,  0.00,   0.55,   0.00,   0.00),
    "oneoff_per_month":      (220,   130,    60,     100,    60),     # median, active month
    "installment_per_month": (90,    80,     40,     80,     40),
    "cash_per_transaction":  (60,    60,     300,    60,     60),
    "transactions_per_month": (3.5,  1.5,    1.3,    1.4,    1.0),    # purchases, active month
    "utilisation":           (0.06,  0.70,   0.50,   0.20,   0.02),   # median balance / limit
    "utilisation_spread":    (0.80,  0.30,   0.35,   0.60,   0.90),   # its lognormal sigma
    "zero_balance":          (0.00,  0.00,   0.00,   0.00,   0.08),
    "balance_rate":          (0.99,  0.98,   0.97,   0.95,   0.35),   # months balance updated
    "full_payer":            (0.99,  0.03,   0.05,   0.55,   0.30),   # ever pays in full
    "full_payment_rate":     (0.88,  0.15,   0.20,   0.35,   0.40),   # months paid in full
    "spend_repaid":          (0.90,  0.30,   0.45,   0.90,   0.60),   # payments / spend
    "balance_repaid":        (0.05,  0.15,   0.10,   0.15,   0.30),   # payments / balance
    "no_payment":            (0.000, 0.003,  0.005,  0.003,  0.20),   # paid nothing at all
}  # fmt: skip

# The real file's TENURE distribution (months: rows out of 8,950).
_TENURE_COUNTS = {6: 204, 7: 190, 8: 196, 9: 175, 10: 236, 11: 365, 12: 7584}
# Shares of rows carrying the real file's soft anomalies, about their real rates.
_SPLIT_MISMATCH_SHARE = 0.002
_SUBFREQUENCY_QUIRK_SHARE = 0.002
_PURCHASES_WITHOUT_TRX_SHARE = 0.0003
_CREDIT_LIMIT_MISSING_SHARE = 1 / 8950
# Minimum payments missing although something was paid: rare, mostly on near-zero balances.
_MINIMUM_MISSING_SMALL_BALANCE = 0.04
_MINIMUM_MISSING_OTHERWISE = 0.001
_SMALL_BALANCE = 50.0
# Positive amounts stay between a cent (about the real file's smallest) and ten million (far above
# its largest, 76,406): tiny or huge floats would be written in scientific notation.
_SMALLEST_AMOUNT = 0.01
_LARGEST_AMOUNT = 1e7
# Peak memory per row while generating and writing (605-760 B measured by
# bench/memory_per_row.py): the frame, the Arrow table and the CSV writer's buffers coexist.
GENERATION_BYTES_PER_ROW = 800
# The share of the currently free memory one command may plan to use.
USABLE_MEMORY_SHARE = 0.8


class _Draws:
    """Per-row segment parameters and the seeded generator, so each column is one vector draw."""

    def __init__(self, rows: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        shares = np.array(SEGMENT_PARAMETERS["share"])
        self.segment = self.rng.choice(len(SEGMENTS), size=rows, p=shares / shares.sum())
        self.rows = rows

    def param(self, name: str) -> np.ndarray:
        return np.array(SEGMENT_PARAMETERS[name], dtype=float)[self.segment]

    def chance(self, p: np.ndarray | float) -> np.ndarray:
        return self.rng.random(self.rows) < p

    def lognormal(self, median: np.ndarray | float, sigma: np.ndarray | float) -> np.ndarray:
        return np.asarray(median) * np.exp(sigma * self.rng.standard_normal(self.rows))

    def active_months(self, active: np.ndarray, rate: np.ndarray, tenure: np.ndarray) -> np.ndarray:
        """At least one month when active (amount > 0 needs a month), none otherwise."""
        months = 1 + self.rng.binomial(tenure - 1, rate)
        return np.where(active, months, 0)


def _tenure(draws: _Draws) -> np.ndarray:
    months = np.array(list(_TENURE_COUNTS))
    weights = np.array(list(_TENURE_COUNTS.values()), dtype=float)
    return draws.rng.choice(months, size=draws.rows, p=weights / weights.sum())


def _amount(values: np.ndarray, decimals: int) -> np.ndarray:
    """Rounded like the real file, with positive values kept in plain decimal notation."""
    clipped = np.where(values > 0, np.clip(values, _SMALLEST_AMOUNT, _LARGEST_AMOUNT), 0.0)
    return np.round(clipped, decimals)


def _share(months: np.ndarray, period: np.ndarray) -> np.ndarray:
    return np.round(months / period, 6)


def _credit_limit(draws: _Draws) -> np.ndarray:
    raw = draws.lognormal(draws.param("credit_limit"), 0.5)
    # Most real limits are multiples of 500, nearly all of 50.
    step = np.where(draws.chance(0.8), 500.0, 50.0)
    limit = np.clip(np.round(raw / step) * step, 300.0, 30_000.0)
    return np.where(draws.chance(_CREDIT_LIMIT_MISSING_SHARE), np.nan, limit)


def _purchases(draws: _Draws, tenure: np.ndarray) -> dict[str, np.ndarray]:
    oneoff_months = draws.active_months(
        draws.chance(draws.param("oneoff_active")), draws.param("oneoff_rate"), tenure
    )
    installment_months = draws.active_months(
        draws.chance(draws.param("installment_active")), draws.param("installment_rate"), tenure
    )
    # A month with a purchase has a one-off, an installment, or both.
    lowest = np.maximum(oneoff_months, installment_months)
    highest = np.minimum(tenure, oneoff_months + installment_months)
    purchase_months = lowest + draws.rng.binomial(highest - lowest, 0.5)
    quirk = draws.chance(_SUBFREQUENCY_QUIRK_SHARE) & (lowest >= 2)
    purchase_months = np.where(quirk, lowest - 1, purchase_months)

    per_month = draws.lognormal(draws.param("transactions_per_month"), 0.7)
    transactions = np.maximum(purchase_months, np.round(purchase_months * per_month))
    oneoff = _amount(oneoff_months * draws.lognormal(draws.param("oneoff_per_month"), 1.0), 2)
    installments = _amount(
        installment_months * draws.lognormal(draws.param("installment_per_month"), 0.9), 2
    )
    purchases = np.round(oneoff + installments, 2)
    # Refunds or reversals booked on one side only: the split no longer adds up.
    mismatch = draws.chance(_SPLIT_MISMATCH_SHARE) & (purchases > 0)
    purchases = np.where(
        mismatch, np.round(purchases + draws.rng.uniform(20, 600, draws.rows), 2), purchases
    )
    no_trx = draws.chance(_PURCHASES_WITHOUT_TRX_SHARE) & (purchases > 0)
    return {
        "PURCHASES": purchases,
        "ONEOFF_PURCHASES": oneoff,
        "INSTALLMENTS_PURCHASES": installments,
        "PURCHASES_FREQUENCY": _share(purchase_months, tenure),
        "ONEOFF_PURCHASES_FREQUENCY": _share(oneoff_months, tenure),
        "PURCHASES_INSTALLMENTS_FREQUENCY": _share(installment_months, tenure),
        "PURCHASES_TRX": np.where(no_trx, 0, transactions).astype(np.int64),
    }


def _cash_advance(draws: _Draws, tenure: np.ndarray) -> dict[str, np.ndarray]:
    months = draws.active_months(
        draws.chance(draws.param("cash_active")), draws.param("cash_rate"), tenure
    )
    transactions = np.maximum(months, np.round(months * draws.lognormal(1.4, 0.4)))
    amount = transactions * draws.lognormal(draws.param("cash_per_transaction"), 0.7)
    return {
        "CASH_ADVANCE": _amount(amount, 6),
        "CASH_ADVANCE_FREQUENCY": _share(months, tenure),
        "CASH_ADVANCE_TRX": transactions.astype(np.int64),
    }


def _balance(draws: _Draws, tenure: np.ndarray, limit: np.ndarray) -> dict[str, np.ndarray]:
    known_limit = np.where(np.isnan(limit), draws.param("credit_limit"), limit)
    spread = draws.param("utilisation_spread")
    utilisation = np.minimum(draws.lognormal(draws.param("utilisation"), spread), 1.4)
    utilisation = np.where(draws.chance(draws.param("zero_balance")), 0.0, utilisation)
    balance = _amount(known_limit * utilisation, 6)
    # The real balance frequency counts updates over tenure - 1 months; a zero balance has none.
    period = tenure - 1
    updated = draws.rng.binomial(period, draws.param("balance_rate"))
    updated = np.where(balance > 0, np.maximum(updated, 1), 0)
    return {"BALANCE": balance, "BALANCE_FREQUENCY": _share(updated, period)}


def _payments(
    draws: _Draws, tenure: np.ndarray, spend: np.ndarray, balance: np.ndarray
) -> dict[str, np.ndarray]:
    paid = (
        draws.lognormal(draws.param("spend_repaid"), 0.35) * spend
        + draws.lognormal(draws.param("balance_repaid"), 0.6) * balance
    )
    paid = np.where(draws.chance(draws.param("no_payment")) | (paid <= 0), 0.0, paid)
    payments = _amount(paid, 6)

    # A card's minimum is a share of the balance plus a floor: about 110 on a near-zero balance
    # and a third of a large one, as in the real file.
    minimum = _amount(draws.lognormal(0.3, 0.5) * balance + draws.lognormal(110, 0.5), 6)
    missing = np.where(
        balance < _SMALL_BALANCE, _MINIMUM_MISSING_SMALL_BALANCE, _MINIMUM_MISSING_OTHERWISE
    )
    # No payment, no minimum recorded: the real file's main reason for an empty cell.
    minimum = np.where((payments == 0) | draws.chance(missing), np.nan, minimum)

    full_months = draws.rng.binomial(tenure, draws.param("full_payment_rate"))
    full_payer = draws.chance(draws.param("full_payer")) & (payments > 0)
    return {
        "PAYMENTS": payments,
        "MINIMUM_PAYMENTS": minimum,
        "PRC_FULL_PAYMENT": _share(np.where(full_payer, full_months, 0), tenure),
    }


def customer_ids(rows: int) -> pd.Series:
    """`S0000001`-style ids: unmistakably synthetic, never like the real `C1xxxx`."""
    return "S" + pd.Series(np.arange(1, rows + 1)).astype(str).str.zfill(7)


def max_rows_in_memory(bytes_per_row: int, available_bytes: int | None = None) -> int:
    """How many rows fit in the memory free right now (a share of it: others need some too)."""
    if available_bytes is None:
        import psutil

        available_bytes = psutil.virtual_memory().available
    return max(1, int(available_bytes * USABLE_MEMORY_SHARE) // bytes_per_row)


def check_synthetic_size(
    rows: int,
    seed: int,
    bytes_per_row: int = GENERATION_BYTES_PER_ROW,
    rows_name: str = "rows",
    seed_name: str = "seed",
) -> None:
    """Whole numbers in range, and no more rows than memory holds (refused, not swapped out).

    `rows_name` and `seed_name` are how the caller's user named them (`--rows`, ...).
    """
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ParameterError(f"{rows_name} must be a whole number of at least 1, got {rows!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"{seed_name} must be a whole number of at least 0, got {seed!r}")
    limit = max_rows_in_memory(bytes_per_row)
    if rows > limit:
        raise ParameterError(
            f"{rows_name} {rows:,} needs about {rows * bytes_per_row / 2**30:.1f} GiB of memory; "
            f"at most {limit:,} rows fit in the memory free now"
        )


def generate_synthetic(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A clean frame (RAW_COLUMNS, contract dtypes) and its planted segment per row."""
    check_synthetic_size(rows, seed)
    draws = _Draws(rows, seed)
    tenure = _tenure(draws)
    limit = _credit_limit(draws)
    frame: dict[str, np.ndarray] = {"CREDIT_LIMIT": limit, "TENURE": tenure.astype(np.int64)}
    frame |= _purchases(draws, tenure)
    frame |= _cash_advance(draws, tenure)
    frame |= _balance(draws, tenure, limit)
    frame |= _payments(draws, tenure, frame["PURCHASES"] + frame["CASH_ADVANCE"], frame["BALANCE"])
    data = pd.DataFrame({CUST_ID: customer_ids(rows).astype(object)} | frame)[list(RAW_COLUMNS)]
    labels = pd.Series(np.array(SEGMENTS, dtype=object)[draws.segment], name="segment")
    return data, labels


def _writable_target(path: Path, what: str) -> Path:
    """Create the folder for `path`; refuse a folder or an unwritable place before any work."""
    path = Path(path)
    if path.is_dir():
        raise ParameterError(f"{what} {path} is a folder; give a file name such as {path}/x.csv")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(
            f"cannot create the folder for {what} {path}: {exc.strerror}"
        ) from None
    if not os.access(path.parent, os.W_OK):
        raise ParameterError(f"cannot write {what} {path}: its folder is not writable")
    return path


def _write_csv(table: pa.Table, path: Path) -> None:
    """Plain CSV like the real file: bare header, no quotes, empty cells for NaN, atomic rename."""
    staged = path.with_name(f".{path.name}.tmp")
    try:
        with staged.open("wb") as sink:
            sink.write((",".join(table.column_names) + "\n").encode())
            options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
            pa_csv.write_csv(table, sink, options)
        staged.replace(path)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise ParameterError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_synthetic(rows: int, seed: int, out: Path, labels_out: Path | None = None) -> Path:
    """Generate and write the CSV (and `CUST_ID,segment` labels if asked); returns `out`."""
    check_synthetic_size(rows, seed)
    if labels_out is not None and Path(labels_out).resolve() == Path(out).resolve():
        raise ParameterError(f"the labels file and the output are the same file: {out}")
    out = _writable_target(out, "output")
    if labels_out is not None:
        labels_out = _writable_target(labels_out, "labels file")
    data, labels = generate_synthetic(rows, seed)
    _write_csv(pa.Table.from_pandas(data, preserve_index=False), out)
    if labels_out is not None:
        label_frame = pd.DataFrame({CUST_ID: data[CUST_ID], labels.name: labels})
        _write_csv(pa.Table.from_pandas(label_frame, preserve_index=False), labels_out)
    return out
