"""The report's inputs from the flow's results, and precomputed names used as they are given."""

from __future__ import annotations

import dataclasses

import numpy as np

from tasks.profiling.naming import SegmentName
from tasks.report.build import build_report


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
