"""Evaluating a fitted model on data gives the grid's own metrics, so comparisons are fair."""

from __future__ import annotations

import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.model.segment_model import SegmentModel
from tasks.segmentation.evaluation import evaluate_model
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import GridCell

CELL = GridCell("log_scaled", "kmeans", 3, 0, (("max_iter", 300), ("n_init", 4)))


@pytest.fixture(scope="module")
def fitted():
    clean, _ = generate_synthetic(500, 4)
    result = fit_cell(CELL, clean, stability_resamples=10, silhouette_sample_size=500)
    return result, SegmentModel(result.pipeline, {0: "a", 1: "b", 2: "c"}), clean


def test_on_its_training_rows_a_model_scores_what_the_grid_measured(fitted) -> None:
    result, model, clean = fitted

    metrics = evaluate_model(model, clean, silhouette_sample_size=500)

    for name in ("silhouette", "davies_bouldin", "calinski_harabasz", "n_segments"):
        assert metrics[name] == pytest.approx(result.metrics[name]), name
    assert "stability_ari" not in metrics  # needs refits: the registry takes it from the run


def test_on_other_customers_the_metrics_describe_those_customers(fitted) -> None:
    result, model, _ = fitted
    other, _ = generate_synthetic(300, 99)

    metrics = evaluate_model(model, other, silhouette_sample_size=300)

    assert metrics["silhouette_sample_size"] == 300
    assert metrics["silhouette"] != pytest.approx(result.metrics["silhouette"])
