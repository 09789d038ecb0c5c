"""Packaging the chosen cell: names inside the model, the card, the reference statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import GridCell
from tasks.segmentation.packaging import CARD_FORMAT, package_model

CELL = GridCell("log_scaled", "kmeans", 3, 0, (("max_iter", 300), ("n_init", 4)))
NAMES = {0: "Cash users", 1: "Spenders", 2: "Dormant"}
SEGMENTS = {str(k): {"name": v, "customers": 1} for k, v in NAMES.items()}


@pytest.fixture(scope="module")
def chosen():
    clean, _ = generate_synthetic(500, 4)
    return fit_cell(CELL, clean, stability_resamples=10, silhouette_sample_size=500), clean


def test_the_packaged_model_answers_the_fit_labels_with_their_names(chosen) -> None:
    result, clean = chosen

    answer = package_model(result, clean, NAMES, SEGMENTS).predict(clean)

    assert np.array_equal(answer["segment"], result.labels)
    assert answer["segment_name"].tolist() == [NAMES[s] for s in result.labels]


def test_the_card_says_what_was_fitted_and_carries_the_training_reference(chosen) -> None:
    result, clean = chosen

    model = package_model(result, clean, NAMES, SEGMENTS)
    card = json.loads(model.card_json)

    assert card["format"] == CARD_FORMAT
    assert (card["cell_id"], card["feature_set"], card["algorithm"], card["k"]) == (
        CELL.cell_id,
        "log_scaled",
        "kmeans",
        3,
    )
    assert card["segments"] == SEGMENTS
    assert card["reference"] == json.loads(json.dumps(model.describe(clean)))
    assert card["reference"]["rows"] == len(clean)


def test_a_segment_without_a_name_stops_packaging(chosen) -> None:
    result, clean = chosen

    with pytest.raises(ValueError, match=r"^segments \[2\] have no name"):
        package_model(result, clean, {0: "a", 1: "b"}, SEGMENTS)


def test_above_the_bound_the_reference_describes_a_seeded_sample(chosen, monkeypatch) -> None:
    result, clean = chosen
    monkeypatch.setattr("tasks.model.segment_model.DESCRIBE_MAX_ROWS", 200)

    model = package_model(result, clean, NAMES, SEGMENTS)
    first = json.loads(model.card_json)["reference"]
    again = json.loads(package_model(result, clean, NAMES, SEGMENTS).card_json)["reference"]
    everyone = json.loads(json.dumps(model.describe(clean, max_rows=len(clean))))

    assert (first["rows"], everyone["rows"]) == (200, len(clean))
    assert first == again
    assert first["inputs"]["BALANCE"]["mean"] != everyone["inputs"]["BALANCE"]["mean"]
