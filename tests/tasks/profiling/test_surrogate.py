"""The surrogate tree gives every segment a readable rule and reports an honest fidelity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.profiling.surrogate import explain_segments, format_threshold


def _separable(rows: int = 900, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Three segments cut by thresholds on two features, plus a feature of pure noise."""
    rng = np.random.default_rng(seed)
    utilisation = rng.uniform(0, 1, rows)
    cash_share = rng.uniform(0, 1, rows)
    labels = np.where(utilisation > 0.6, np.where(cash_share > 0.4, 2, 1), 0)
    features = pd.DataFrame(
        {
            "CUST_ID": [f"c{i}" for i in range(rows)],
            "utilisation": utilisation,
            "cash_advance_share": cash_share,
            "noise": rng.normal(size=rows),
        }
    )
    return features, pd.Series(labels)


def test_fidelity_is_near_perfect_when_segments_follow_thresholds():
    features, labels = _separable()
    explanation = explain_segments(features, labels)
    assert 0.98 <= explanation.fidelity <= 1.0
    top = explanation.rules[2][0]
    assert "utilisation > 0.6" in top.text and "cash_advance_share > 0.4" in top.text
    assert top.precision > 0.95 and top.coverage > 0.9
    assert "noise" not in explanation.importances or explanation.importances["noise"] < 0.05


def test_fidelity_stays_in_range_and_every_segment_has_a_rule_on_random_labels():
    features, _ = _separable(seed=1)
    labels = pd.Series(np.random.default_rng(1).integers(0, 4, len(features)))
    explanation = explain_segments(features, labels)
    assert 0.0 <= explanation.fidelity <= 1.0
    assert sorted(explanation.rules) == [0, 1, 2, 3]
    for rules in explanation.rules.values():
        assert rules, "every segment needs at least one rule"
        for rule in rules:
            assert 0.0 <= rule.precision <= 1.0 and 0.0 < rule.coverage <= 1.0
            assert rule.text


def test_a_segment_no_leaf_predicts_gets_a_one_vs_rest_rule():
    features, labels = _separable(rows=1200, seed=2)
    tiny = labels.copy()
    tiny.iloc[:30] = 9  # too small to win any leaf of the shared tree
    explanation = explain_segments(features, tiny, max_depth=2)
    assert explanation.rules[9][0].source == "one-vs-rest tree"
    assert explanation.rules[9][0].support > 0


def test_depth_grows_past_six_segments_but_stays_shallow():
    features, _ = _separable(rows=1500, seed=3)
    labels = pd.Series(np.random.default_rng(3).integers(0, 8, len(features)))
    assert explain_segments(features, labels).depth == 4
    assert explain_segments(features, labels.clip(upper=4)).depth == 3


def test_features_without_a_numeric_column_are_refused():
    with pytest.raises(ValueError, match="no numeric column"):
        explain_segments(pd.DataFrame({"CUST_ID": ["a", "b"]}), pd.Series([0, 1]))


@pytest.mark.parametrize(
    ("value", "text"), [(1234.5, "1,234"), (12.345, "12.35"), (0.12345, "0.123"), (-0.5, "-0.500")]
)
def test_thresholds_are_written_without_scientific_notation(value, text):
    assert format_threshold(value) == text


def test_above_the_fit_bound_trees_learn_from_a_sample_and_rules_count_every_customer(
    monkeypatch,
):
    monkeypatch.setattr("tasks.profiling.surrogate.SURROGATE_FIT_ROWS", 300)
    features, labels = _separable(rows=3_000)
    explanation = explain_segments(features, labels)
    # Thresholds learnt from 300 rows still separate the 3,000 (fidelity on all of them).
    assert explanation.fidelity > 0.95
    sizes = labels.value_counts()
    for segment, rules in explanation.rules.items():
        top = rules[0]
        assert top.support / top.coverage == pytest.approx(sizes[segment])
    assert explanation.rules[2][0].support > 300 * 0.5  # counted beyond the 300 fitted rows


def test_leaves_counted_in_chunks_give_the_same_explanation_as_in_one_piece(monkeypatch):
    features, labels = _separable(rows=2_000)
    features.loc[::7, "noise"] = np.nan  # the median fill must be the column's, not the chunk's
    whole = explain_segments(features, labels)
    monkeypatch.setattr("tasks.profiling.surrogate.MATRIX_CHUNK_ROWS", 300)
    chunked = explain_segments(features, labels)
    assert chunked == whole
    assert whole.fidelity > 0.95
