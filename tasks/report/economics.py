"""Value and risk in money per segment, as ranges over stated assumptions.

CC GENERAL has amounts and behaviour but no prices, so revenue and loss are computed from named
assumptions (core/settings.py `EconomicsSettings`, each with a low and a high value):

- interchange = interchange rate x purchases a year (purchases / tenure x 12);
- interest = APR x revolving balance, where the revolving balance is the balance times the share
  of months NOT paid in full (a transactor who always pays in full pays no interest);
- cash-advance fees = fee rate x cash advances a year.

Risk proxies need no assumption: the share paying less than the minimum due (the contract's soft
rule `minimum_payment_above_payments`), the share with utilisation above HIGH_UTILISATION, and
the balances of "stressed" customers (either of the two). The stress loss = loss rate x stressed
balance is the one risk figure in money. Net ranges pair the pessimistic corners (low revenue,
high loss) and the optimistic ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.settings import Assumption, EconomicsSettings
from schemas.raw import breaks_soft_rule
from tasks.profiling.naming import SegmentName
from tasks.profiling.profiles import positional

HIGH_UTILISATION = 0.9
MONTHS_A_YEAR = 12
REVENUE_LINES = ("interchange", "interest", "fees")


@dataclass(frozen=True)
class Economics:
    """Per-customer money lines, their sums per group, and the assumptions behind them."""

    customers: pd.DataFrame  # one row per customer: lines *_low/*_high, risk flags, balances
    by_group: pd.DataFrame  # one row per group (segment id), see `summarise`
    portfolio: pd.Series  # the same columns for all customers together
    assumptions: list[Assumption]


def customer_lines(clean: pd.DataFrame, settings: EconomicsSettings) -> pd.DataFrame:
    """Annual revenue lines (low and high), risk flags and balances for every customer."""
    tenure = clean["TENURE"].to_numpy(dtype=float)
    balance = clean["BALANCE"].to_numpy(dtype=float)
    limit = clean["CREDIT_LIMIT"].to_numpy(dtype=float)
    full_payment = np.clip(clean["PRC_FULL_PAYMENT"].to_numpy(dtype=float), 0.0, 1.0)
    annual_purchases = clean["PURCHASES"].to_numpy(dtype=float) / tenure * MONTHS_A_YEAR
    annual_cash = clean["CASH_ADVANCE"].to_numpy(dtype=float) / tenure * MONTHS_A_YEAR
    revolving = balance * (1.0 - full_payment)
    utilisation = np.divide(balance, limit, out=np.zeros_like(balance), where=limit > 0)
    below_minimum = breaks_soft_rule(clean, "minimum_payment_above_payments").to_numpy()
    high_utilisation = utilisation > HIGH_UTILISATION
    stressed = below_minimum | high_utilisation
    frame = pd.DataFrame(
        {
            "annual_purchases": annual_purchases,
            "annual_cash_advance": annual_cash,
            "balance": balance,
            "revolving_balance": revolving,
            "below_minimum": below_minimum,
            "high_utilisation": high_utilisation,
            "stressed": stressed,
            "stressed_balance": np.where(stressed, balance, 0.0),
        }
    )
    base = {
        "interchange": (annual_purchases, "interchange_rate"),
        "interest": (revolving, "purchase_apr"),
        "fees": (annual_cash, "cash_advance_fee"),
        "stress_loss": (frame["stressed_balance"].to_numpy(), "stress_loss_rate"),
    }
    for line, (amount, key) in base.items():
        assumption = settings.assumption(key)
        frame[f"{line}_low"] = amount * assumption.low
        frame[f"{line}_high"] = amount * assumption.high
    frame["revenue_low"] = sum(frame[f"{line}_low"] for line in REVENUE_LINES)
    frame["revenue_high"] = sum(frame[f"{line}_high"] for line in REVENUE_LINES)
    return frame


# Shares of customers reported per group and for the portfolio: share name -> flag column.
SHARE_FLAGS = {
    "below_minimum_share": "below_minimum",
    "high_utilisation_share": "high_utilisation",
    "stressed_share": "stressed",
}


def _sums(frame: pd.DataFrame) -> pd.Series:
    money = [c for c in frame.columns if c.endswith(("_low", "_high"))]
    totals = frame[money].sum()
    totals["customers"] = len(frame)
    totals["balance"] = frame["balance"].sum()
    totals["stressed_balance"] = frame["stressed_balance"].sum()
    for share, flag in SHARE_FLAGS.items():
        totals[share] = frame[flag].mean() if len(frame) else np.nan
    return totals


def _sums_by_group(lines: pd.DataFrame, groups: np.ndarray) -> pd.DataFrame:
    """`_sums` of each group, by grouped aggregations (`apply` copied every group's rows)."""
    grouped = lines.groupby(groups)
    money = [c for c in lines.columns if c.endswith(("_low", "_high"))]
    by_group = grouped[[*money, "balance", "stressed_balance"]].sum()
    by_group.insert(len(money), "customers", grouped.size().astype("float64"))
    for share, flag in SHARE_FLAGS.items():
        by_group[share] = grouped[flag].mean().astype("float64")
    return by_group


def summarise(lines: pd.DataFrame, groups: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    """Sums and shares per group, and for the whole portfolio.

    Shares of the portfolio are given under both corners (`revenue_share_low` uses every low
    assumption, `_high` every high one): the ranges are the honest answer to "how much of the
    revenue".
    """
    portfolio = _sums(lines)
    by_group = _sums_by_group(lines, np.asarray(groups))
    for corner in ("low", "high"):
        total = portfolio[f"revenue_{corner}"]
        by_group[f"revenue_share_{corner}"] = by_group[f"revenue_{corner}"] / total if total else 0
    stressed = portfolio["stressed_balance"]
    by_group["stressed_balance_share"] = by_group["stressed_balance"] / stressed if stressed else 0
    by_group["net_low"] = by_group["revenue_low"] - by_group["stress_loss_high"]
    by_group["net_high"] = by_group["revenue_high"] - by_group["stress_loss_low"]
    portfolio["net_low"] = portfolio["revenue_low"] - portfolio["stress_loss_high"]
    portfolio["net_high"] = portfolio["revenue_high"] - portfolio["stress_loss_low"]
    for corner in ("low", "high"):
        per = by_group["customers"].replace(0, np.nan)
        by_group[f"revenue_per_customer_{corner}"] = by_group[f"revenue_{corner}"] / per
    return by_group, portfolio


def segment_economics(
    clean: pd.DataFrame, labels: np.ndarray, settings: EconomicsSettings
) -> Economics:
    """Money lines and risk proxies per segment (ids of `labels`) and for the portfolio."""
    lines = customer_lines(positional(clean), settings)
    by_group, portfolio = summarise(lines, np.asarray(labels, dtype=np.int64))
    by_group.index = by_group.index.astype(int)
    return Economics(lines, by_group, portfolio, settings.assumptions())


def money(value: float) -> str:
    """An amount a year, short: 1.23 M, 456 k, 789 (no currency: the source names none)."""
    if not np.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if magnitude >= 1e4:
        return f"{value / 1e3:,.0f} k"
    if magnitude >= 1e3:
        return f"{value / 1e3:,.1f} k"
    return f"{value:,.0f}"


def money_range(low: float, high: float) -> str:
    return f"{money(low)} to {money(high)}"


def share_range(low: float, high: float) -> str:
    """Two shares as one range, lower first; a single value when they round alike."""
    first, second = sorted((low, high))
    if f"{first:.0%}" == f"{second:.0%}":
        return f"{first:.0%}"
    return f"{first:.0%} to {second:.0%}"


def trade_off(economics: Economics, names: dict[int, SegmentName]) -> str:
    """The risk-return sentence of the executive page, from this run's numbers.

    The segments that hold most of the stressed balances, and how much of the revenue they make.
    """
    by = economics.by_group.drop(index=-1, errors="ignore")
    if by.empty or economics.portfolio["stressed_balance"] <= 0:
        return "No customer is under stress by the report's definition."
    ranked = by.sort_values("stressed_balance_share", ascending=False)
    top, covered = [], 0.0
    for segment, row in ranked.iterrows():
        top.append(int(segment))
        covered += float(row["stressed_balance_share"])
        if covered >= 0.5:
            break
    group = by.loc[top]
    low = group["revenue_low"].sum() / economics.portfolio["revenue_low"]
    high = group["revenue_high"].sum() / economics.portfolio["revenue_high"]
    customers = group["customers"].sum() / economics.portfolio["customers"]
    listed = " and ".join(names[s].name for s in top)
    low, high = sorted((low, high))
    share = f"{low:.0%}" if f"{low:.0%}" == f"{high:.0%}" else f"{low:.0%} to {high:.0%}"
    return (
        f"{listed} ({customers:.0%} of customers) hold {covered:.0%} of the balances under stress "
        f"and make {share} of the revenue: the revenue and the risk sit in the same customers, so "
        "containing risk there costs income, and growing income there adds risk."
    )
