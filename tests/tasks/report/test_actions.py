"""Every action targets customers by a fixed-threshold rule, counts them and sizes its test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.settings import EconomicsSettings
from tasks.profiling.naming import ARCHETYPE_BY_KEY, NOISE_ARCHETYPE, SegmentName
from tasks.report.actions import ACTIONS, Condition, decisions, plan_actions
from tasks.report.economics import customer_lines


def test_every_archetype_has_an_action_with_a_priced_metric():
    assert set(ACTIONS) == set(ARCHETYPE_BY_KEY) | {NOISE_ARCHETYPE}


def _inputs(report_inputs):
    lines = customer_lines(report_inputs.clean.reset_index(drop=True), EconomicsSettings())
    features = report_inputs.features.reset_index(drop=True)
    return features, lines, np.asarray(report_inputs.labels)


def test_the_target_count_is_the_customers_the_rule_selects(synthetic_inputs, synthetic_report):
    features, lines, labels = _inputs(synthetic_inputs)
    frame = pd.concat([features, lines.drop(columns=["balance"])], axis=1)
    for segment, action in synthetic_report.actions.items():
        mask = labels == segment
        for condition in action.conditions:
            mask &= condition.mask(frame)
        assert action.customers == int(mask.sum())
        assert action.customers <= action.segment_customers == int((labels == segment).sum())
        assert action.test.available == action.customers


@pytest.mark.realdata
def test_no_threshold_is_the_segments_own_median(real_inputs, real_report):
    features, _, labels = _inputs(real_inputs)
    for segment, action in real_report.actions.items():
        members = features[labels == segment]
        for condition in action.conditions:
            median = float(members[condition.column].median())
            assert not np.isclose(condition.threshold, median), (action.title, condition)


@pytest.mark.realdata
def test_each_real_action_selects_part_of_its_segment_and_states_its_test(real_report):
    for action in real_report.actions.values():
        assert 0 < action.customers <= action.segment_customers
        assert action.effect_low <= action.effect_high
        assert action.test.per_arm > 0
        assert action.test.feasible == (2 * action.test.per_arm <= action.customers)


def test_the_three_decisions_are_the_most_money_at_stake_one_per_segment(synthetic_report):
    chosen = decisions(synthetic_report.actions)
    assert len(chosen) == min(3, len(synthetic_report.actions))
    assert len({a.segment for a in chosen}) == len(chosen)
    rest = [a for a in synthetic_report.actions.values() if a not in chosen]
    assert all(abs(r.effect_high) <= abs(chosen[-1].effect_high) for r in rest)


def test_a_condition_reads_as_its_rule_and_selects_by_it():
    condition = Condition("balance", ">=", 1_000.0)
    frame = pd.DataFrame({"balance": [999.0, 1000.0, 5000.0]})
    assert condition.describe() == "balance >= 1,000"
    assert condition.mask(frame).tolist() == [False, True, True]


def test_a_segment_nobody_matches_gets_an_action_for_zero_customers_not_an_error(
    synthetic_inputs,
):
    features, lines, labels = _inputs(synthetic_inputs)
    names = {0: SegmentName(0, "Dormant", "dormant")}
    nobody = np.full(len(labels), 1)  # no customer is in segment 0
    actions = plan_actions(features, lines, nobody, names, EconomicsSettings())
    assert actions[0].customers == 0 and actions[0].test.per_arm == 0
