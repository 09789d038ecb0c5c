"""The scale path on small data (low thresholds): sampled grid, bounded fits, chunked labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans, MiniBatchKMeans

from tasks.data.synthetic import generate_synthetic
from tasks.segmentation.fit import fit_cell, make_cell_pipeline
from tasks.segmentation.grid import GridCell, GridSpecError, default_grid, parse_grid_spec
from tasks.segmentation.scale import (
    ScaleSpec,
    analysis_sample,
    predict_in_chunks,
    seeded_positions,
    transform_in_chunks,
)

ROWS = 3_000
LOW = ScaleSpec(
    sample_above_rows=2_000,
    fit_sample_rows=1_500,
    bounded_fit_rows=600,
    stability_rows=800,
    minibatch_above_rows=1_000,
    predict_chunk_rows=1_000,
)


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return generate_synthetic(ROWS, seed=3)[0]


def test_below_the_threshold_the_grid_sees_every_customer() -> None:
    sample = analysis_sample(LOW.sample_above_rows, LOW)

    assert not sample.sampled
    assert sample.rows == LOW.sample_above_rows
    assert sample.params()["scale.sampled"] == "False"


def test_above_the_threshold_the_grid_sees_a_seeded_recorded_sample(clean) -> None:
    first, again = analysis_sample(ROWS, LOW), analysis_sample(ROWS, LOW)

    assert first.sampled and first.rows == LOW.fit_sample_rows
    np.testing.assert_array_equal(first.positions, again.positions)
    assert len(np.unique(first.positions)) == LOW.fit_sample_rows
    assert first.params() == {
        "scale.sampled": "True",
        "scale.rows_total": ROWS,
        "scale.sample_rows": LOW.fit_sample_rows,
        "scale.sample_seed": 0,
    }
    frame = first.frame(clean)
    pd.testing.assert_frame_equal(
        frame, clean.iloc[first.positions].reset_index(drop=True), check_exact=True
    )


def test_the_real_file_size_stays_below_the_default_threshold() -> None:
    assert ScaleSpec().sample_above_rows > 8_950
    assert ScaleSpec().bounded_fit_rows > 8_950
    assert ScaleSpec().stability_rows > 8_950
    assert default_grid().scale == ScaleSpec()


def test_chunked_assignment_equals_one_predict_over_every_customer(clean) -> None:
    cell = GridCell("log_scaled", "kmeans", 4, 0, (("max_iter", 300), ("n_init", 2)))
    pipeline = make_cell_pipeline(cell).fit(clean)

    chunked = predict_in_chunks(pipeline, clean, chunk_rows=700)

    assert chunked.dtype == np.int64 and len(chunked) == ROWS
    np.testing.assert_array_equal(chunked, pipeline.predict(clean))


@pytest.mark.parametrize(
    "cell",
    [
        GridCell("behavioural", "ward", 4, 0),
        GridCell(
            "log_scaled", "hdbscan", None, 0, (("min_cluster_size", 50), ("min_samples", None))
        ),
    ],
    ids=["ward", "hdbscan"],
)
def test_unscalable_algorithms_fit_on_a_bounded_sample_and_label_everyone(clean, cell) -> None:
    result = fit_cell(cell, clean, stability_resamples=10, silhouette_sample_size=500, scale=LOW)

    model = result.pipeline[-1]
    assert model.train_.shape[0] == LOW.bounded_fit_rows  # the saved model holds no more rows
    assert result.metrics["fit_rows"] == LOW.bounded_fit_rows
    assert len(result.labels) == ROWS
    np.testing.assert_array_equal(result.labels, result.pipeline.predict(clean))


def test_kmeans_switches_to_mini_batch_only_above_its_size(clean) -> None:
    cell = GridCell("log_scaled", "kmeans", 3, 0, (("max_iter", 300), ("n_init", 2)))

    big = fit_cell(cell, clean, stability_resamples=10, silhouette_sample_size=500, scale=LOW)
    small = fit_cell(
        cell, clean.head(900), stability_resamples=10, silhouette_sample_size=500, scale=LOW
    )

    assert isinstance(big.pipeline[-1], MiniBatchKMeans)
    assert type(small.pipeline[-1]) is KMeans


def test_the_same_seed_gives_the_same_bounded_fit(clean) -> None:
    cell = GridCell("behavioural", "ward", 3, 0)
    fit = lambda: fit_cell(  # noqa: E731
        cell, clean, stability_resamples=10, silhouette_sample_size=500, scale=LOW
    )
    first, again = fit(), fit()

    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.metrics["stability_ari"] == again.metrics["stability_ari"]


def test_seeded_positions_are_sorted_distinct_and_none_when_all_rows_fit() -> None:
    assert seeded_positions(100, 100, 0) is None
    picked = seeded_positions(1_000, 10, 5)
    assert list(picked) == sorted(set(picked.tolist())) and len(picked) == 10


def test_a_sample_larger_than_its_threshold_is_refused_with_both_sizes() -> None:
    with pytest.raises(GridSpecError, match=r"fit_sample_rows \(5000\) must not exceed .*\(2000\)"):
        parse_grid_spec(
            {
                "feature_sets": ["log_scaled"],
                "algorithms": [{"name": "kmeans", "ks": [3]}],
                "scale": {"sample_above_rows": 2_000, "fit_sample_rows": 5_000},
            }
        )


def test_chunked_transform_equals_one_transform_over_every_customer(clean) -> None:
    cell = GridCell("log_scaled", "kmeans", 3, 0, (("max_iter", 300), ("n_init", 1)))
    features = make_cell_pipeline(cell)[:-1].fit(clean)
    whole = np.asarray(features.transform(clean), dtype=float)
    chunked = transform_in_chunks(features, clean, chunk_rows=700)  # 5 chunks, the last short
    assert chunked.shape == whole.shape
    assert np.array_equal(chunked, whole)
