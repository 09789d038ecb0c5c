"""Actions a business can test: who exactly, how many, what it could be worth, how to test it.

Each segment's archetype (tasks/profiling/naming.py) has one action. Its target is a rule that
selects customers: membership of the segment AND conditions whose thresholds are fixed policy
values written here (never a segment's own median, which would select half of it by
construction). The expected effect assumes the action moves its metric by exactly the minimum
detectable effect of its A/B test; it is turned into money with the economics assumptions, so it
is a range. The test's sample size comes from a power calculation (tasks/report/experiments.py).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.settings import EconomicsSettings
from tasks.profiling.naming import SegmentName
from tasks.profiling.profiles import positional
from tasks.report.economics import HIGH_UTILISATION, money_range
from tasks.report.experiments import TestDesign, mean_test, proportion_test

OPERATORS: dict[str, Callable[[object, object], object]] = {
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Condition:
    """`column op threshold` on the engineered features (or the economics lines)."""

    column: str
    op: str
    threshold: float

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(OPERATORS[self.op](frame[self.column], self.threshold), dtype=bool)

    def describe(self) -> str:
        value = f"{self.threshold:,.0f}" if self.threshold >= 100 else f"{self.threshold:g}"
        return f"{self.column} {self.op} {value}"


# Metrics an action can move, and the money a change of one unit is worth a year.
# "proportion" metrics are customer flags; "mean" metrics are amounts a year per customer.
METRICS: dict[str, tuple[str, str, str]] = {
    # key: (kind, label, assumption that prices one unit)
    "below_minimum": ("proportion", "share paying less than the minimum", "stress_loss_rate"),
    "annual_purchases": ("mean", "purchases a year per customer", "interchange_rate"),
    "revolving_balance": ("mean", "revolving balance per customer", "purchase_apr"),
    "active": ("proportion", "share making any purchase", "interchange_rate"),
}


@dataclass(frozen=True)
class ActionSpec:
    """One testable action: what, for whom (beyond segment membership), measured how."""

    title: str
    conditions: tuple[Condition, ...]
    metric: str
    change: float  # proportions: absolute (-0.05 = 5 points fewer); means: relative (+0.05)
    assumption: str  # the stated assumption behind the expected effect


_BELOW = "below_minimum"
_SPEND = "annual_purchases"
ACTIONS: dict[str, ActionSpec] = {
    "cash_revolver": ActionSpec(
        "Offer a fixed-rate instalment loan that refinances cash advances",
        (Condition("cash_advance_share", ">=", 0.5), Condition("balance", ">=", 1_000.0)),
        _BELOW,
        -0.05,
        "moving a balance to a scheduled loan takes 5 % of the targeted out of paying less than "
        "the minimum, and their balances out of the stressed book",
    ),
    "revolver_with_cash": ActionSpec(
        "Hold limit increases and offer a rate review above 90 % utilisation",
        (Condition("utilisation", ">", HIGH_UTILISATION),),
        _BELOW,
        -0.05,
        "a rate review and no new headroom takes 5 % of the targeted out of paying less than "
        "the minimum",
    ),
    "maxed_low_limit": ActionSpec(
        "Send due-date reminders and offer a credit-builder payment plan",
        (Condition("utilisation", ">", HIGH_UTILISATION),),
        _BELOW,
        -0.05,
        "reminders take 5 % of the targeted out of paying less than the minimum",
    ),
    "cash_and_spend": ActionSpec(
        "Reward card purchases to move spending from cash advances to purchases",
        (Condition("cash_advance_share", ">=", 0.3),),
        _SPEND,
        0.05,
        "rewards lift the targeted customers' purchases by 5 %",
    ),
    "transactor": ActionSpec(
        "Offer a premium cashback upgrade to full payers who buy often",
        (Condition("full_payment_share", ">=", 0.5), Condition("purchases_frequency", ">=", 0.5)),
        _SPEND,
        0.05,
        "the upgrade lifts the targeted customers' purchases by 5 %",
    ),
    "big_spender": ActionSpec(
        "Offer travel and partner rewards on one-off spend",
        (Condition("oneoff_share", ">=", 0.5), Condition("purchases_frequency", ">=", 0.5)),
        _SPEND,
        0.05,
        "rewards lift the targeted customers' purchases by 5 %",
    ),
    "installment": ActionSpec(
        "Offer merchant instalment plans at checkout to low-utilisation instalment buyers",
        (Condition("installment_share", ">=", 0.5), Condition("utilisation", "<", 0.5)),
        _SPEND,
        0.05,
        "instalment offers lift the targeted customers' purchases by 5 %",
    ),
    "oneoff_spender": ActionSpec(
        "Give points on one-off spend and an instalment option on large tickets",
        (Condition("purchases_frequency", ">=", 0.5), Condition("cash_advance_share", "<", 0.3)),
        _SPEND,
        0.05,
        "points lift the targeted customers' purchases by 5 %",
    ),
    "revolver": ActionSpec(
        "Offer a balance transfer to revolvers who pay well above the minimum",
        (Condition("full_payment_share", "<", 0.5), Condition("payments_to_minimum", ">=", 2.0)),
        "revolving_balance",
        0.05,
        "the transfer offer grows the targeted customers' revolving balances by 5 %",
    ),
    "dormant": ActionSpec(
        "Offer a reactivation bonus for a first purchase within 90 days",
        (Condition("purchases_frequency", "<", 0.1),),
        "active",
        0.05,
        "the bonus makes 5 % more of the targeted buy on the card, each spending what the "
        "average purchaser spends",
    ),
    "occasional": ActionSpec(
        "Offer category cashback to turn occasional use into a monthly habit",
        (Condition("purchases_frequency", "<", 0.5),),
        _SPEND,
        0.10,
        "cashback lifts the targeted customers' purchases by 10 %",
    ),
    "all_round": ActionSpec(
        "Test a broad rewards offer to find the lever",
        (Condition("utilisation", "<", HIGH_UTILISATION),),
        _SPEND,
        0.05,
        "the offer lifts the targeted customers' purchases by 5 %",
    ),
    "noise": ActionSpec(
        "Review the largest unassigned balances one by one",
        (Condition("balance", ">=", 5_000.0),),
        _BELOW,
        -0.05,
        "the review takes 5 % of the targeted out of paying less than the minimum",
    ),
}


@dataclass(frozen=True)
class Action:
    """An action for one segment, with its target, size, effect range and test design."""

    segment: int
    segment_name: str
    title: str
    target: str  # the rule, readable
    conditions: tuple[Condition, ...]
    customers: int
    segment_customers: int
    metric_label: str
    assumption: str
    effect_low: float  # money a year, under the low assumptions
    effect_high: float
    test: TestDesign

    @property
    def effect_text(self) -> str:
        return money_range(self.effect_low, self.effect_high)


def _metric_values(frame: pd.DataFrame, metric: str) -> np.ndarray:
    if metric == "active":
        return (frame["annual_purchases"] > 0).to_numpy(dtype=float)
    return frame[metric].to_numpy(dtype=float)


def _money(
    spec: ActionSpec, targeted: pd.DataFrame, everyone: pd.DataFrame, settings: EconomicsSettings
) -> tuple[float, float]:
    """The yearly money the action is worth if it moves its metric by exactly `spec.change`."""
    _kind, _, key = METRICS[spec.metric]
    assumption = settings.assumption(key)
    n = len(targeted)
    if spec.metric == "below_minimum":  # fewer stressed customers: their balance's loss avoided
        unit = -spec.change * n * float(targeted["balance"].mean() if n else 0.0)
    elif spec.metric == "active":  # newly active customers spend like the average purchaser
        purchasers = everyone.loc[everyone["annual_purchases"] > 0, "annual_purchases"]
        unit = spec.change * n * float(purchasers.mean() if len(purchasers) else 0.0)
    else:
        unit = spec.change * float(targeted[spec.metric].sum())
    low, high = sorted((unit * assumption.low, unit * assumption.high))
    return low, high


def _action_columns(features: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """The columns actions read (conditions, metrics, balance), from the features, else the
    money lines: both frames side by side were a 6 GB copy at 10M customers."""
    wanted = {c.column for spec in ACTIONS.values() for c in spec.conditions}
    wanted |= {spec.metric for spec in ACTIONS.values()} | {"balance", "annual_purchases"}
    return pd.DataFrame(
        {
            column: features[column] if column in features.columns else lines[column]
            for column in sorted(wanted)
            if column in features.columns or column in lines.columns
        }
    )


def plan_actions(
    features: pd.DataFrame,
    lines: pd.DataFrame,
    labels: np.ndarray,
    names: dict[int, SegmentName],
    settings: EconomicsSettings,
) -> dict[int, Action]:
    """One action per segment, its target counted on this run's customers."""
    frame = _action_columns(positional(features), positional(lines))
    labels = np.asarray(labels, dtype=np.int64)
    result: dict[int, Action] = {}
    for segment, named in sorted(names.items()):
        spec = ACTIONS[named.archetype]
        members = labels == segment
        selected = members.copy()
        for condition in spec.conditions:
            selected &= condition.mask(frame)
        targeted = frame[selected]
        kind, label, _ = METRICS[spec.metric]
        values = _metric_values(targeted, spec.metric)
        if kind == "proportion":
            baseline = float(values.mean()) if len(values) else 0.0
            test = proportion_test(label, baseline, spec.change, len(targeted))
        else:
            test = mean_test(label, values, spec.change, len(targeted))
        low, high = _money(spec, targeted, frame, settings)
        target = " and ".join([f"segment = {named.name}", *(c.describe() for c in spec.conditions)])
        result[segment] = Action(
            segment=segment,
            segment_name=named.name,
            title=spec.title,
            target=target,
            conditions=spec.conditions,
            customers=int(selected.sum()),
            segment_customers=int(members.sum()),
            metric_label=label,
            assumption=spec.assumption,
            effect_low=low,
            effect_high=high,
            test=test,
        )
    return result


def decisions(actions: dict[int, Action], count: int = 3) -> list[Action]:
    """The actions with the most money at stake (largest high-end effect), one per segment."""
    ranked = sorted(actions.values(), key=lambda a: (-abs(a.effect_high), a.segment))
    return ranked[:count]
