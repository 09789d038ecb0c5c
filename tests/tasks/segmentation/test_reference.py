"""The reference space is one yardstick: no PCA, every engineered column, for every cell."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans

from tasks.data.synthetic import generate_synthetic
from tasks.segmentation.features import FEATURE_SETS, make_feature_pipeline
from tasks.segmentation.metrics import segment_jaccard
from tasks.segmentation.reference import (
    reference_columns,
    reference_pipeline,
    reference_silhouette,
    reference_space,
)


@pytest.fixture(scope="module")
def clean():
    return generate_synthetic(1_200, seed=4)[0]


def test_the_reference_space_is_the_union_of_the_engineered_sets_without_pca():
    columns, logged = reference_columns()
    for name in ("log_scaled", "behavioural"):
        assert set(FEATURE_SETS[name].columns) <= set(columns)
        assert set(FEATURE_SETS[name].log_columns) <= set(logged)
    assert len(columns) == len(set(columns))
    assert "pca" not in dict(reference_pipeline().steps)


def test_pca_flatters_its_own_silhouette_which_is_why_the_reference_has_none(clean):
    space = reference_space(clean)
    labels = KMeans(4, n_init=4, random_state=0).fit_predict(
        make_feature_pipeline("behavioural").fit_transform(clean)
    )
    # The PCA space scores the same labels higher in its own space, never in the reference one.
    own_plain = make_feature_pipeline("behavioural").fit_transform(clean)
    own_pca = make_feature_pipeline("behavioural_pca").fit_transform(clean)
    from sklearn.metrics import silhouette_score

    assert silhouette_score(own_pca, labels) > silhouette_score(own_plain, labels)
    assert space.shape == (len(clean), len(reference_columns()[0]))


def test_noise_is_left_out_and_a_single_segment_is_degenerate(clean):
    space = reference_space(clean)
    labels = np.zeros(len(clean), dtype=int)
    assert reference_silhouette(space, labels, 500) == -1.0
    labels[:600] = 1
    with_noise = labels.copy()
    with_noise[:10] = -1
    assert reference_silhouette(space, with_noise, 5_000) != reference_silhouette(
        space, labels, 5_000
    )


def test_segment_jaccard_finds_each_segments_best_match():
    reference = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    found = np.array([5, 5, 5, 7, 7, 7, 7, 7])
    assert segment_jaccard(reference, found) == {0: pytest.approx(3 / 4), 1: pytest.approx(4 / 5)}
    assert segment_jaccard(reference, np.full(8, -1)) == {0: 0.0, 1: 0.0}


def test_the_reference_space_in_chunks_is_the_space_in_one_go(clean):
    whole = np.asarray(reference_pipeline().fit_transform(clean), dtype=float)
    assert np.array_equal(reference_space(clean), whole)  # one chunk: exactly the same
    chunked = reference_space(clean, chunk_rows=500)
    assert chunked.shape == whole.shape
    assert np.allclose(chunked, whole, rtol=0, atol=1e-12)  # incremental scaling: rounding only


def test_the_reference_space_of_some_rows_is_scaled_on_every_row(clean):
    whole = reference_space(clean)
    rows = np.array([3, 17, 250, len(clean) - 1])
    assert np.array_equal(reference_space(clean, positions=rows), whole[rows])
