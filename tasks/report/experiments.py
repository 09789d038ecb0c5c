"""How many customers an A/B test of an action needs: a power calculation (statsmodels).

Two-sided test at ALPHA with POWER, equal arms. A proportion (e.g. the share paying less than the
minimum) is powered on Cohen's h between the baseline and the baseline moved by the minimum
detectable effect; a mean (e.g. purchases a year) on Cohen's d, with the standard deviation
measured on the targeted customers, so a heavy-tailed metric honestly needs many more customers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

ALPHA = 0.05
POWER = 0.80


@dataclass(frozen=True)
class TestDesign:
    """An A/B test: the metric's baseline, the smallest effect worth detecting, the sample."""

    metric: str
    kind: str  # "proportion" or "mean"
    baseline: float
    minimum_effect: float  # absolute, in the metric's units (a proportion: percentage points)
    effect_size: float  # Cohen's h or d
    per_arm: int  # customers per arm; 0 when the effect cannot be detected (no variation)
    available: int  # customers the action targets
    alpha: float = ALPHA
    power: float = POWER

    @property
    def total(self) -> int:
        return 2 * self.per_arm

    @property
    def feasible(self) -> bool:
        """The targeted customers can fill both arms."""
        return 0 < self.total <= self.available


def _per_arm(effect_size: float) -> int:
    if not np.isfinite(effect_size) or effect_size == 0:
        return 0
    n = NormalIndPower().solve_power(
        effect_size=abs(effect_size), alpha=ALPHA, power=POWER, ratio=1.0, alternative="two-sided"
    )
    return math.ceil(float(n))


def proportion_test(metric: str, baseline: float, change: float, available: int) -> TestDesign:
    """Detect a move of the proportion `baseline` by `change` (e.g. -0.05 for -5 points)."""
    target = float(np.clip(baseline + change, 0.0, 1.0))
    size = float(proportion_effectsize(target, baseline)) if target != baseline else 0.0
    if available == 0:  # no baseline was measured: nothing to size a test on
        size = 0.0
    return TestDesign(
        metric, "proportion", baseline, target - baseline, size, _per_arm(size), available
    )


def mean_test(
    metric: str, values: np.ndarray, relative_change: float, available: int
) -> TestDesign:
    """Detect a relative change of the mean of `values` (e.g. 0.05 for +5 %)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else 0.0
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    change = relative_change * mean
    size = change / sd if sd > 0 else 0.0
    return TestDesign(metric, "mean", mean, change, size, _per_arm(size), available)
