"""Finalists are re-measured with several seeds, more starts and 50 resamples, on bounded rows."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.segmentation.finalists import (
    evaluate_finalist,
    finalist_params,
    summarise_scores,
    universe,
)
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import FinalistSpec, GridCell, GridSpecError, parse_grid_spec


@pytest.fixture(scope="module")
def clean():
    return generate_synthetic(900, seed=3)[0]


def _cell(algorithm: str, k: int = 5, **params) -> GridCell:
    # The cell as a grid with few k-means starts would have fitted it.
    defaults = {"kmeans": {"max_iter": 300, "n_init": 4}, "ward": {}}[algorithm]
    return GridCell("log_scaled", algorithm, k, 0, tuple(sorted({**defaults, **params}.items())))


def test_more_starts_replace_the_grids_few_but_never_lower_them():
    assert finalist_params(_cell("kmeans"), 10)["n_init"] == 10
    assert finalist_params(_cell("kmeans", n_init=20), 10)["n_init"] == 20
    assert "n_init" not in finalist_params(_cell("ward"), 10)


def test_the_interval_brackets_the_mean_and_narrows_with_agreeing_resamples():
    spread = summarise_scores(list(np.linspace(0.6, 1.0, 50)), seed=0)
    tight = summarise_scores([0.95] * 25 + [0.96] * 25, seed=0)
    assert spread.ci_low < spread.mean < spread.ci_high
    assert tight.ci_high - tight.ci_low < spread.ci_high - spread.ci_low
    assert spread.resamples == 50
    assert spread.p05 == pytest.approx(np.quantile(np.linspace(0.6, 1.0, 50), 0.05))


def test_large_data_is_measured_on_a_fixed_bounded_sample():
    rows = universe(100_000, 20_000, seed=1)
    assert len(rows) == 20_000 and len(np.unique(rows)) == 20_000
    assert np.array_equal(rows, universe(100_000, 20_000, seed=1))
    assert np.array_equal(universe(500, 20_000, seed=1), np.arange(500))


def test_a_finalist_is_refitted_per_seed_and_resampled_with_per_segment_jaccard(clean):
    cell = _cell("kmeans")
    grid = fit_cell(cell, clean, stability_resamples=10, silhouette_sample_size=500)
    spec = FinalistSpec(count=1, seeds=3, resamples=50, n_init=8, max_rows=600)
    result = evaluate_finalist(cell, clean, grid.labels, spec, 500)
    assert result.seeds == 3 and result.n_init == 8 and result.rows == 600
    assert result.stability.resamples == len(result.scores) == 50
    assert result.stability.ci_low <= result.stability.mean <= result.stability.ci_high
    assert sorted(result.segment_jaccard) == list(range(5))
    assert all(0 < j <= 1 for j in result.segment_jaccard.values())
    # Planted segments and 8 starts: the seeds find the same optimum.
    assert result.seed_agreement > 0.9


def test_a_deterministic_algorithm_is_fitted_once_and_agrees_with_itself(clean):
    cell = _cell("ward", k=4)
    grid = fit_cell(cell, clean, stability_resamples=10, silhouette_sample_size=500)
    spec = FinalistSpec(count=1, seeds=3, resamples=50, max_rows=900)
    result = evaluate_finalist(cell, clean, grid.labels, spec, 500)
    assert result.seeds == 1 and result.n_init is None
    assert result.seed_agreement == 1.0
    assert result.registered_agreement == pytest.approx(1.0)


def test_fewer_than_fifty_finalist_resamples_are_refused_before_any_work():
    base = {"feature_sets": ["log_scaled"], "algorithms": [{"name": "kmeans", "ks": [3]}]}
    with pytest.raises(GridSpecError, match=r"\(finalists\): resamples: .*equal to 50 \(got 49\)"):
        parse_grid_spec({**base, "finalists": {"resamples": 49}})
    with pytest.raises(GridSpecError, match=r"\(finalists\): colour: Extra inputs"):
        parse_grid_spec({**base, "finalists": {"colour": 1}})


def test_ward_and_hdbscan_finalists_stay_within_the_grids_fit_bound(clean):
    """Ward on 20,000 finalist rows held a 1.6 GB distance matrix: the grid's bound applies."""
    ward = _cell("ward", k=4)
    grid = fit_cell(ward, clean, stability_resamples=10, silhouette_sample_size=500)
    spec = FinalistSpec(count=1, seeds=1, resamples=50, max_rows=900)
    bounded = evaluate_finalist(ward, clean, grid.labels, spec, 500, bounded_fit_rows=600)
    assert bounded.rows == 600
    kmeans = _cell("kmeans")
    grid = fit_cell(kmeans, clean, stability_resamples=10, silhouette_sample_size=500)
    unbounded = evaluate_finalist(kmeans, clean, grid.labels, spec, 500, bounded_fit_rows=600)
    assert unbounded.rows == 900
