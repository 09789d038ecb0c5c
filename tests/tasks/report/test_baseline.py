"""The rule baseline and the repayment axis: fixed thresholds, exact agreement and variance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.report.baseline import (
    REPAYMENT_GROUPS,
    compare_with_rule,
    repayment_groups,
    rule_groups,
    segment_and_repayment,
    variance_explained,
)


def _features(**columns: list[float]) -> pd.DataFrame:
    base = {
        "purchases_per_month": [0.0, 50.0, 50.0, 50.0],
        "cash_advance_share": [1.0, 0.4, 0.1, 0.0],
        "installment_share": [0.0, 0.9, 0.6, 0.2],
        "full_payment_share": [0.0, 0.5, 0.49, 1.0],
    }
    return pd.DataFrame(base | columns)


def test_the_rule_puts_each_customer_in_its_group_in_order():
    assert rule_groups(_features()).tolist() == [0, 1, 2, 3]


def test_transactors_pay_in_full_at_least_half_the_months():
    assert repayment_groups(_features()).tolist() == [
        REPAYMENT_GROUPS[0],
        REPAYMENT_GROUPS[1],
        REPAYMENT_GROUPS[0],
        REPAYMENT_GROUPS[1],
    ]


def test_variance_explained_is_one_for_a_perfect_grouping_and_zero_for_a_useless_one():
    values = pd.Series([1.0, 1.0, 100.0, 100.0])
    assert variance_explained(values, np.array([0, 0, 1, 1])) == pytest.approx(1.0)
    assert variance_explained(values, np.array([0, 1, 0, 1])) == pytest.approx(0.0)
    assert variance_explained(pd.Series([5.0] * 4), np.array([0, 1, 0, 1])) == 0.0


def test_segments_equal_to_the_rule_agree_perfectly_and_separate_identically(synthetic_inputs):
    features = synthetic_inputs.features.reset_index(drop=True)
    rule = rule_groups(features)
    space = synthetic_inputs.reference_space
    baseline = compare_with_rule(features, rule, space, space, 1_000, 0)
    assert baseline.agreement_ari == pytest.approx(1.0)
    assert baseline.rule_reference_silhouette == pytest.approx(baseline.rule_model_silhouette)
    explained = baseline.variance_explained
    assert (explained["segments"] == explained["rule"]).all()
    assert int(baseline.crosstab.to_numpy().sum()) == len(features)


@pytest.mark.realdata
def test_on_real_data_the_non_purchasers_sit_in_one_segment(real_report):
    crosstab = real_report.baseline.crosstab
    non_purchasers = crosstab["No purchases"]
    assert non_purchasers.max() == non_purchasers.sum() > 1_000


def test_the_verdict_says_when_the_segments_only_confirm_the_rule(synthetic_inputs):
    from tasks.report.baseline import verdict

    features = synthetic_inputs.features.reset_index(drop=True)
    space = synthetic_inputs.reference_space
    same = compare_with_rule(features, rule_groups(features), space, space, 1_000, 0)
    close = verdict(same, same.rule_reference_silhouette + 0.005)
    assert close.startswith("The segments are close to the rule (ARI 1.000)")
    far = verdict(same, same.rule_reference_silhouette + 0.05)
    assert far.startswith(
        "The segments agree with the rule at ARI 1.000 and separate better by 0.050"
    )


def test_segment_and_repayment_names_each_customers_pair():
    labels = np.array([2, 0, 2, -1, 0])
    repayment = pd.Series(
        pd.Categorical(["Revolver", "Transactor", "Transactor", "Revolver", "Transactor"])
    )
    assert segment_and_repayment(labels, repayment).tolist() == [
        "2|Revolver",
        "0|Transactor",
        "2|Transactor",
        "-1|Revolver",
        "0|Transactor",
    ]
