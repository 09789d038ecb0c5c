"""A/B sample sizes come from statsmodels' power calculation and match the textbook formula."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from tasks.report.experiments import ALPHA, POWER, mean_test, proportion_test


def _textbook(effect: float) -> int:
    z = norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER)
    return int(np.ceil(2 * (z / effect) ** 2))  # per arm, two equal arms


def test_a_proportion_test_is_sized_on_cohens_h():
    design = proportion_test("below minimum", 0.40, -0.05, available=5000)
    h = 2 * np.arcsin(np.sqrt(0.35)) - 2 * np.arcsin(np.sqrt(0.40))
    assert design.effect_size == pytest.approx(h)
    assert abs(design.per_arm - _textbook(abs(h))) <= 1
    assert design.minimum_effect == pytest.approx(-0.05)
    assert design.feasible


def test_a_heavy_tailed_mean_needs_far_more_customers_than_a_tight_one():
    rng = np.random.default_rng(0)
    tight = mean_test("spend", rng.normal(1000, 100, 2000), 0.05, available=2000)
    heavy = mean_test("spend", rng.lognormal(6.5, 1.3, 2000), 0.05, available=2000)
    assert abs(tight.per_arm - _textbook(0.05 * 1000 / 100)) <= 3
    assert heavy.per_arm > 20 * tight.per_arm
    assert tight.feasible and not heavy.feasible


def test_no_variation_or_no_customers_gives_no_test_instead_of_an_error():
    assert mean_test("spend", np.zeros(50), 0.05, available=50).per_arm == 0
    assert mean_test("spend", np.array([]), 0.05, available=0).per_arm == 0
    assert not proportion_test("x", 0.0, -0.05, available=100).feasible
