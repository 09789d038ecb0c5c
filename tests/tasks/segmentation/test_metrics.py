"""The grid's metrics: fixed, documented names; shares with noise; separation; stability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.segmentation.metrics import (
    DEGENERATE_DAVIES_BOULDIN,
    DEGENERATE_SILHOUETTE,
    METRIC_DOCS,
    METRIC_NAMES,
    bootstrap_stability,
    segment_shares,
    separation_metrics,
)


def test_every_metric_name_is_documented() -> None:
    assert tuple(METRIC_DOCS) == METRIC_NAMES
    assert {"silhouette", "bic", "stability_ari", "noise_share", "fit_seconds"} <= set(METRIC_NAMES)


def test_segment_shares_add_up_with_noise() -> None:
    shares = segment_shares(np.array([0, 0, 0, 1, -1]))
    assert shares == {
        "n_segments": 2.0,
        "min_segment_share": 0.2,
        "max_segment_share": 0.6,
        "noise_share": 0.2,
    }


def test_segment_shares_of_all_noise_are_zero_segments() -> None:
    shares = segment_shares(np.array([-1, -1]))
    assert shares == {
        "n_segments": 0.0,
        "min_segment_share": 0.0,
        "max_segment_share": 0.0,
        "noise_share": 1.0,
    }


def test_separation_metrics_mark_a_single_segment_as_degenerate() -> None:
    space = np.random.default_rng(0).normal(size=(30, 2))
    metrics = separation_metrics(space, np.zeros(30, dtype=int), sample_size=10, seed=0)
    assert metrics == {
        "silhouette": DEGENERATE_SILHOUETTE,
        "silhouette_sample_size": 0.0,
        "davies_bouldin": DEGENERATE_DAVIES_BOULDIN,
        "calinski_harabasz": 0.0,
        "degenerate": 1.0,
    }


def test_metrics_are_computed_in_the_model_space_without_noise() -> None:
    space = np.array([[0.0], [0.1], [10.0], [10.1], [500.0]])
    labels = np.array([0, 0, 1, 1, -1])
    metrics = separation_metrics(space, labels, sample_size=100, seed=0)
    assert metrics["silhouette"] > 0.95  # the far-away noise point does not count
    assert metrics["silhouette_sample_size"] == 4
    assert metrics["degenerate"] == 0.0


def test_better_separated_segments_score_better_on_every_separation_metric() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 50)
    tight = np.where(labels[:, None] == 0, 0.0, 10.0) + rng.normal(0, 1, (100, 2))
    loose = np.where(labels[:, None] == 0, 0.0, 2.0) + rng.normal(0, 1, (100, 2))

    good = separation_metrics(tight, labels, sample_size=100, seed=0)
    poor = separation_metrics(loose, labels, sample_size=100, seed=0)

    assert good["silhouette"] > poor["silhouette"]
    assert good["davies_bouldin"] < poor["davies_bouldin"]
    assert good["calinski_harabasz"] > poor["calinski_harabasz"]


def test_bootstrap_stability_is_one_for_a_method_that_always_agrees() -> None:
    clean = pd.DataFrame({"x": range(100)})
    truth = np.arange(100) % 3
    calls: list[int] = []

    def fit_predict(sample: pd.DataFrame, seed: int) -> np.ndarray:
        calls.append(len(sample))
        return truth

    mean, std = bootstrap_stability(fit_predict, clean, truth, resamples=10, seed=0, rows=50)
    assert (mean, std) == (1.0, 0.0)
    assert calls == [50] * 10


def test_bootstrap_stability_is_low_for_a_method_that_answers_at_random() -> None:
    clean = pd.DataFrame({"x": range(300)})
    truth = np.arange(300) % 3

    def fit_predict(sample: pd.DataFrame, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, 3, size=300)

    mean, std = bootstrap_stability(fit_predict, clean, truth, resamples=10, seed=0)
    assert mean == pytest.approx(0.0, abs=0.05)
    assert std > 0.0
