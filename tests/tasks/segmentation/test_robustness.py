"""Robustness refits under other preprocessing, and the split of the segments at the next k."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import GridCell
from tasks.segmentation.nesting import next_k_labels, split_table
from tasks.segmentation.robustness import VARIANTS, robustness

CELL = GridCell("log_scaled", "kmeans", 5, 0, (("max_iter", 300), ("n_init", 10)))


@pytest.fixture(scope="module")
def fitted():
    clean = generate_synthetic(1_500, seed=6)[0]
    clean.loc[:99, "TENURE"] = 6
    result = fit_cell(CELL, clean, stability_resamples=10, silhouette_sample_size=500)
    return clean, result.labels


def test_every_variant_is_refitted_and_compared_on_the_customers_it_keeps(fitted):
    clean, labels = fitted
    results = robustness(CELL, clean, labels, n_init=4)
    assert [r.key for r in results] == [key for key, _, _ in VARIANTS]
    by_key = {r.key: r for r in results}
    assert by_key["full_window"].customers == int((clean["TENURE"] == 12).sum())
    assert by_key["top_removed"].customers < len(clean)
    assert by_key["nulls_by_median"].customers == len(clean)
    # Planted segments survive every reasonable treatment.
    assert all(r.ari > 0.8 for r in results), [(r.key, r.ari) for r in results]


def test_a_variant_on_data_it_does_not_touch_changes_nothing(fitted):
    clean, _ = fitted
    _, _, no_tenure = next(v for v in VARIANTS if v[0] == "no_tenure")
    full = clean.assign(TENURE=12)
    frame, change = no_tenure(full)
    assert "0 customers" in change
    pd.testing.assert_frame_equal(frame, full)


def test_the_chosen_labels_come_first_and_the_next_ks_are_refits(fitted):
    clean, labels = fitted
    splits = next_k_labels(CELL, clean, labels, steps=2, n_init=4)
    assert sorted(splits) == [5, 6, 7]
    assert np.array_equal(splits[5], labels)
    assert len(np.unique(splits[6])) == 6 and len(np.unique(splits[7])) == 7
    flows = split_table(splits[5], splits[6])
    assert int(flows.to_numpy().sum()) == len(clean)


def test_a_density_method_has_no_next_k(fitted):
    clean, labels = fitted
    cell = GridCell("log_scaled", "hdbscan", None, 0, (("min_cluster_size", 50),))
    assert list(next_k_labels(cell, clean, labels)) == [0]


def test_the_new_segment_at_the_next_k_is_the_one_drawn_from_several():
    from tasks.segmentation.nesting import new_segment

    coarse = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    fine = np.array([0, 0, 2, 2, 1, 1, 1, 2, 2])
    assert new_segment(coarse, fine) == (2, {0: 2, 1: 2})
