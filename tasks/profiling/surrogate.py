"""A shallow decision tree that explains segment membership in readable rules, with its fidelity.

The tree is trained to predict the cluster labels from the engineered (interpretable) features:
its accuracy against those labels is the fidelity, i.e. how much of the clustering the printed
rules really explain. A segment that no leaf of the shared tree predicts gets its rule from a
small one-vs-rest tree instead, so every segment has a rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from tasks.profiling.profiles import numeric_feature_columns

RULES_PER_SEGMENT = 2
MIN_EXTRA_COVERAGE = 0.10  # a second rule for a sliver of the segment only adds noise
# Trees are fitted on at most this many customers (a seeded sample; 1,000,000 rows took 11 s);
# fidelity, support and coverage are then counted on every customer.
SURROGATE_FIT_ROWS = 50_000
MATRIX_CHUNK_ROWS = 250_000


@dataclass(frozen=True)
class SegmentRule:
    """One root-to-leaf path, and how well it describes the segment."""

    segment: int
    text: str
    support: int  # segment members the rule matches
    coverage: float  # support / segment size
    precision: float  # support / customers the rule matches
    source: str  # "surrogate tree" or "one-vs-rest tree"


@dataclass(frozen=True)
class SurrogateExplanation:
    """Rules per segment plus the fidelity of the tree they come from."""

    fidelity: float
    depth: int
    n_leaves: int
    rules: dict[int, list[SegmentRule]]
    importances: dict[str, float]


def format_threshold(value: float) -> str:
    """Thresholds with as many digits as a reader needs, never scientific notation."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _path_text(conditions: list[tuple[str, bool, float]]) -> str:
    """Merge repeated splits on one feature into a single range and write them out."""
    bounds: dict[str, list[float | None]] = {}
    for feature, greater, threshold in conditions:
        low, high = bounds.setdefault(feature, [None, None])
        if greater:
            bounds[feature][0] = threshold if low is None else max(low, threshold)
        else:
            bounds[feature][1] = threshold if high is None else min(high, threshold)
    parts = []
    for feature, (low, high) in bounds.items():
        if low is not None and high is not None:
            parts.append(f"{format_threshold(low)} < {feature} ≤ {format_threshold(high)}")
        elif low is not None:
            parts.append(f"{feature} > {format_threshold(low)}")
        else:
            parts.append(f"{feature} ≤ {format_threshold(high)}")
    return " and ".join(parts) if parts else "all customers"


def _leaf_paths(tree: DecisionTreeClassifier, names: list[str]) -> dict[int, str]:
    inner = tree.tree_
    paths: dict[int, str] = {}
    stack: list[tuple[int, list[tuple[str, bool, float]]]] = [(0, [])]
    while stack:
        node, conditions = stack.pop()
        left, right = inner.children_left[node], inner.children_right[node]
        if left == right:  # a leaf
            paths[node] = _path_text(conditions)
            continue
        feature, threshold = names[inner.feature[node]], float(inner.threshold[node])
        stack.append((left, [*conditions, (feature, False, threshold)]))
        stack.append((right, [*conditions, (feature, True, threshold)]))
    return paths


class _Matrix:
    """The numeric features as float rows, built `MATRIX_CHUNK_ROWS` at a time on demand.

    The whole matrix at once (10M customers x 21 features, plus the float32 copy each tree
    `apply` makes) was 3 GB of a 10M-customer run's peak; the trees need only their sample, and
    the leaves of everyone are counted chunk by chunk. Missing values get the column's median
    over every customer, so rules stay free of "missing goes left" clauses a reader cannot act on.
    """

    def __init__(self, features: pd.DataFrame) -> None:
        # sorted: column order must not matter
        self.columns = sorted(numeric_feature_columns(features))
        if not self.columns:
            raise ValueError("features has no numeric column to explain the segments with")
        self.n = len(features)
        # Views of the float64 columns; only the others (tenure, counts) are converted.
        self._arrays = [features[c].to_numpy(dtype="float64") for c in self.columns]
        self._fills = [self._median_if_missing(values) for values in self._arrays]

    @staticmethod
    def _median_if_missing(values: np.ndarray) -> float | None:
        missing = np.isnan(values)
        if not missing.any():
            return None
        known = values[~missing]
        return float(np.median(known)) if len(known) else 0.0

    def rows(self, at: np.ndarray | slice) -> np.ndarray:
        """The float64 rows at `at` (positions or a slice), missing values filled."""
        first = self._arrays[0][at]
        values = np.empty((len(first), len(self.columns)), dtype="float64")
        for position, (array, fill) in enumerate(zip(self._arrays, self._fills, strict=True)):
            values[:, position] = array[at]
            if fill is not None:
                column = values[:, position]
                column[np.isnan(column)] = fill
        return values

    def leaves(self, tree: DecisionTreeClassifier) -> np.ndarray:
        """The leaf every customer falls in, chunk by chunk."""
        parts = [
            tree.apply(self.rows(slice(start, start + MATRIX_CHUNK_ROWS)))
            for start in range(0, self.n, MATRIX_CHUNK_ROWS)
        ]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)


def _leaf_classes(tree: DecisionTreeClassifier) -> np.ndarray:
    """The class `predict` answers in each node (argmax of the node's class weights, as it does)."""
    return tree.classes_[np.argmax(tree.tree_.value[:, 0, :], axis=1)]


def _leaf_rules(
    leaf_of: np.ndarray, labels: np.ndarray, paths: dict[int, str], source: str
) -> list[SegmentRule]:
    sizes = pd.Series(labels).value_counts()
    table = pd.crosstab(pd.Series(leaf_of, name="leaf"), pd.Series(labels, name="segment"))
    rules = []
    for leaf, row in table.iterrows():
        segment = int(row.idxmax())
        support = int(row.max())
        rules.append(
            SegmentRule(
                segment=segment,
                text=paths[int(leaf)],
                support=support,
                coverage=support / int(sizes[segment]),
                precision=support / int(row.sum()),
                source=source,
            )
        )
    return rules


def fit_positions(n: int, seed: int) -> np.ndarray:
    """The rows the trees learn from: all `n`, or a sorted seeded sample of SURROGATE_FIT_ROWS."""
    if n <= SURROGATE_FIT_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, SURROGATE_FIT_ROWS, replace=False))


def _one_vs_rest_rule(
    matrix: _Matrix,
    fitted_rows: np.ndarray,
    labels: np.ndarray,
    segment: int,
    seed: int,
    fit_at: np.ndarray,
) -> SegmentRule:
    target = labels == segment
    tree = DecisionTreeClassifier(
        max_depth=2, class_weight="balanced", random_state=seed, min_samples_leaf=5
    ).fit(fitted_rows, target[fit_at])
    paths = _leaf_paths(tree, matrix.columns)
    leaf_of = matrix.leaves(tree)
    best: SegmentRule | None = None
    best_f1 = -1.0
    for leaf, text in sorted(paths.items()):
        in_leaf = leaf_of == leaf
        support = int((in_leaf & target).sum())
        if support == 0:
            continue
        precision = support / int(in_leaf.sum())
        coverage = support / int(target.sum())
        f1 = 2 * precision * coverage / (precision + coverage)
        if f1 > best_f1:
            best_f1 = f1
            best = SegmentRule(segment, text, support, coverage, precision, "one-vs-rest tree")
    assert best is not None, "a segment with members has at least one leaf holding one"
    return best


def _main_rules(rules: list[SegmentRule]) -> list[SegmentRule]:
    """The best rule, plus runners-up that still cover a real part of the segment."""
    extra = [r for r in rules[1:] if r.coverage >= MIN_EXTRA_COVERAGE]
    return [rules[0], *extra][:RULES_PER_SEGMENT]


def explain_segments(
    features: pd.DataFrame, labels: pd.Series, max_depth: int | None = None, seed: int = 0
) -> SurrogateExplanation:
    """Fit the surrogate tree (depth 3, or 4 past 6 segments) and write each segment's rules.

    Above SURROGATE_FIT_ROWS customers the trees learn from a seeded sample; fidelity and each
    rule's support, coverage and precision are still counted on every customer.
    """
    matrix = _Matrix(features)
    target = np.asarray(labels, dtype=np.int64)
    if len(target) != matrix.n:
        raise ValueError(f"features ({matrix.n} rows) and labels ({len(target)}) differ")
    segments = sorted(set(target.tolist()))
    depth = max_depth if max_depth is not None else (3 if len(segments) <= 6 else 4)
    fit_at = fit_positions(len(target), seed)
    min_leaf = max(5, len(fit_at) // 200)  # no leaf for a handful of customers
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=min_leaf, random_state=seed)
    fitted_rows = matrix.rows(fit_at)
    tree.fit(fitted_rows, target[fit_at])
    leaf_of = matrix.leaves(tree)
    fidelity = float((_leaf_classes(tree)[leaf_of] == target).mean())
    rules = _leaf_rules(leaf_of, target, _leaf_paths(tree, matrix.columns), "surrogate tree")
    by_segment: dict[int, list[SegmentRule]] = {}
    for rule in sorted(rules, key=lambda r: (-r.support, r.text)):
        if rule.precision >= 0.5:  # a leaf where the segment is a minority does not define it
            by_segment.setdefault(rule.segment, []).append(rule)
    for segment in segments:
        if segment not in by_segment:
            by_segment[segment] = [
                _one_vs_rest_rule(matrix, fitted_rows, target, segment, seed, fit_at)
            ]
    importances = dict(
        zip(matrix.columns, tree.feature_importances_.astype(float).tolist(), strict=True)
    )
    return SurrogateExplanation(
        fidelity=fidelity,
        depth=depth,
        n_leaves=int(tree.get_n_leaves()),
        rules={s: _main_rules(by_segment[s]) for s in segments},
        importances={
            k: v for k, v in sorted(importances.items(), key=lambda kv: (-kv[1], kv[0])) if v > 0
        },
    )
