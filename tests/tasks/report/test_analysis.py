"""analysis.json is strict JSON (no NaN), keyed by segment id, and holds the report's texts."""

from __future__ import annotations

import json

import numpy as np

from tasks.report.analysis import _plain, analysis_json


def test_nan_numpy_scalars_and_int_keys_become_plain_json():
    value = {1: [np.float64("nan"), np.int64(3)], "x": (np.float32(0.5),)}
    assert _plain(value) == {"1": [None, 3], "x": [0.5]}


def test_the_record_is_strict_json_with_every_section(synthetic_report):
    record = json.loads(analysis_json(synthetic_report))
    for section in (
        "segments",
        "segment_values",
        "actions",
        "economics",
        "baseline",
        "finalists",
        "robustness",
        "quantities",
        "trade_off",
        "decisions",
    ):
        assert record[section], section
    assert set(record["segments"]) == {str(s) for s in synthetic_report.names}
    assert record["decisions"] == [a.segment for a in synthetic_report.context["decisions"]]
