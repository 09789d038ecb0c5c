"""The report's inputs from the flow's results, and precomputed names used as they are given."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tasks.data.synthetic import write_synthetic
from tasks.profiling.naming import SegmentName
from tasks.report.build import build_report

from .conftest import SYNTHETIC_ROWS, grid_report_inputs, small_grid


def test_inputs_carry_the_finalists_robustness_and_next_k_splits(synthetic_inputs):
    inputs = synthetic_inputs
    chosen = inputs.finalists[inputs.finalists["chosen"]]
    assert list(chosen["cell_id"]) == [inputs.chosen_cell_id]
    assert sorted(inputs.segment_jaccard) == sorted(set(np.asarray(inputs.labels)))
    assert len(inputs.robustness) == 6
    k = int(inputs.grid.set_index("cell_id").at[inputs.chosen_cell_id, "k"])
    assert sorted(inputs.splits) == [k, k + 1, k + 2]
    assert np.array_equal(inputs.splits[k], np.asarray(inputs.labels))
    assert inputs.reference_space.shape[0] == len(inputs.clean)


def test_names_computed_before_promotion_are_used_not_recomputed(
    synthetic_inputs, synthetic_report
):
    renamed = {
        s: SegmentName(s, f"Named upstream {s}", n.archetype, None, n.percentiles)
        for s, n in synthetic_report.names.items()
    }
    report = build_report(dataclasses.replace(synthetic_inputs, names=renamed))
    assert {s: n.name for s, n in report.names.items()} == {
        s: f"Named upstream {s}" for s in renamed
    }
    assert "Named upstream 0" in report.html
    assert set(report.assignments["segment_name"]) == {n.name for n in renamed.values()}


def test_above_the_finalists_bound_the_spaces_hold_a_sample_and_the_report_counts_everyone(
    tmp_path,
):
    path = write_synthetic(SYNTHETIC_ROWS, 3, tmp_path / "cc.csv")
    grid = small_grid([3, 4], ["log_scaled"], finalists=1, finalist_rows=500)
    inputs = grid_report_inputs(path, grid, is_synthetic=True)

    assert len(inputs.space_positions) == 500
    assert inputs.model_space.shape[0] == inputs.reference_space.shape[0] == 500
    measured = np.flatnonzero(np.isfinite(inputs.silhouette_samples))
    assert np.array_equal(measured, inputs.space_positions)  # k-means: no noise to leave out
    report = build_report(inputs)
    assert len(report.assignments) == SYNTHETIC_ROWS
    assert int(report.profiles.sizes["n"].sum()) == SYNTHETIC_ROWS
    assert -1 < report.baseline.rule_reference_silhouette < 1
    assert report.figures["projection_2d"].startswith(b"\x89PNG")


def test_a_space_that_does_not_match_its_positions_is_refused(synthetic_inputs):
    with pytest.raises(ValueError, match="model_space has 2500 rows, its positions 3"):
        build_report(dataclasses.replace(synthetic_inputs, space_positions=np.arange(3)))
