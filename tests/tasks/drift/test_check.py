"""The drift check: verdicts none / warn / drift from the champion's reference, and clear
outcomes for batches that cannot be judged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.settings import DriftSettings
from tasks.data.synthetic import generate_synthetic
from tasks.drift.check import NOT_CHECKED, check_drift
from tasks.model.segment_model import SegmentModel
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import GridCell
from tasks.segmentation.packaging import package_model

NAMES = {0: "First", 1: "Second", 2: "Third"}
SETTINGS = DriftSettings()


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    return generate_synthetic(2_000, 1)[0]


@pytest.fixture(scope="module")
def model(training: pd.DataFrame) -> SegmentModel:
    cell = GridCell("log_scaled", "kmeans", 3, 0, (("max_iter", 300), ("n_init", 4)))
    result = fit_cell(cell, training, stability_resamples=10, silhouette_sample_size=500)
    return package_model(result, training, NAMES, {str(k): {"name": v} for k, v in NAMES.items()})


def test_the_training_data_itself_has_no_drift(model: SegmentModel, training) -> None:
    result = check_drift(model, training, SETTINGS)

    assert (result.verdict, result.checked, result.reasons) == ("none", True, [])
    assert {f["score"] for f in result.features.values()} == {0.0}
    assert result.segment_shares["distance"] == 0.0


def test_a_random_half_of_the_training_data_has_no_drift(model: SegmentModel, training) -> None:
    half = training.sample(frac=0.5, random_state=3)

    result = check_drift(model, half, SETTINGS)

    assert result.verdict == "none", result.reasons
    assert result.rows == len(half)


def test_a_shifted_feature_is_drift_and_named(model: SegmentModel, training) -> None:
    half = training.sample(frac=0.5, random_state=3)
    shifted = half.assign(BALANCE=half["BALANCE"] * 1.6)

    result = check_drift(model, shifted, SETTINGS)

    assert result.verdict == "drift"
    drifted = [c for c, f in result.features.items() if f["status"] == "drift"]
    assert drifted == ["BALANCE"]
    assert result.reasons[0].startswith("BALANCE moved")
    assert "drifted: BALANCE" in result.summary_line()


def test_a_small_shift_between_the_thresholds_warns(model: SegmentModel, training) -> None:
    shifted = training.assign(BALANCE=training["BALANCE"] * 1.2)

    result = check_drift(model, shifted, SETTINGS)

    assert result.verdict == "warn"
    assert result.features["BALANCE"]["status"] == "warn"


def test_thresholds_come_from_the_settings(model: SegmentModel, training) -> None:
    shifted = training.assign(BALANCE=training["BALANCE"] * 1.2)
    lenient = DriftSettings(feature_warn=5.0, feature_drift=10.0)

    assert check_drift(model, shifted, lenient).verdict == "none"


def test_customers_far_from_every_segment_are_counted(model: SegmentModel, training) -> None:
    far = training.head(200).copy()
    amounts = ["BALANCE", "PURCHASES", "ONEOFF_PURCHASES", "PAYMENTS", "CASH_ADVANCE"]
    far[amounts] = far[amounts] * 50

    result = check_drift(model, far, SETTINGS)

    assert result.far_from_centre["share"] > SETTINGS.far_drift
    assert result.far_from_centre["status"] == "drift"
    assert result.verdict == "drift"


def test_distances_a_scoring_run_already_has_are_used_as_given(
    model: SegmentModel, training
) -> None:
    batch = training.head(200)
    scored = model.predict(batch)
    scored["distance"] = scored["distance"] * 50  # as if every customer were far away

    result = check_drift(model, batch, SETTINGS, scored=scored)

    assert result.far_from_centre["status"] == "drift"
    assert check_drift(model, batch, SETTINGS).far_from_centre["status"] == "none"


def test_a_batch_of_one_row_is_not_judged_and_says_why(model: SegmentModel, training) -> None:
    result = check_drift(model, training.head(1), SETTINGS)

    assert (result.verdict, result.checked, result.rows) == ("none", False, 1)
    assert result.reasons == ["1 row(s): fewer than the 50 a drift check needs"]
    assert result.summary_line().startswith("drift: not checked (1 row(s)")


def test_an_empty_batch_is_not_judged_and_says_why(model: SegmentModel, training) -> None:
    result = check_drift(model, training.head(0), SETTINGS)

    assert (result.verdict, result.checked, result.rows) == ("none", False, 0)
    assert result.reasons == ["the batch is empty: fewer than the 50 a drift check needs"]


def test_a_missing_optional_column_is_named_not_checked(model: SegmentModel, training) -> None:
    batch = training.drop(columns=["MINIMUM_PAYMENTS"])

    result = check_drift(model, batch, SETTINGS)

    assert result.checked and result.verdict == "none"
    assert result.features["MINIMUM_PAYMENTS"]["status"] == NOT_CHECKED
    assert result.features["MINIMUM_PAYMENTS"]["score"] is None
    assert result.reasons == ["MINIMUM_PAYMENTS not checked: absent or empty in the batch"]
    checked = [c for c, f in result.features.items() if f["status"] != NOT_CHECKED]
    assert len(checked) == len(result.features) - 1


def test_a_model_without_reference_statistics_is_not_judged(model: SegmentModel, training):
    bare = SegmentModel(model.pipeline, model.segment_names, json.dumps({"segments": {}}))

    result = check_drift(bare, training, SETTINGS)

    assert (result.verdict, result.checked) == ("none", False)
    assert "no reference statistics" in result.reasons[0]


def test_the_result_is_plain_json_with_the_documented_keys(model: SegmentModel, training):
    document = json.loads(json.dumps(check_drift(model, training, SETTINGS).as_dict()))

    assert {"verdict", "features", "segment_shares"} <= set(document)
    assert set(document["features"]) == set(model.card["reference"]["inputs"])
    assert set(document["segment_shares"]["segments"]) == {"0", "1", "2"}
    assert np.isclose(
        sum(s["batch"] for s in document["segment_shares"]["segments"].values()), 1.0, atol=1e-3
    )


def test_warn_above_drift_in_settings_is_refused() -> None:
    with pytest.raises(ValueError, match="CCSEG_DRIFT_FEATURE_WARN"):
        DriftSettings(feature_warn=0.5, feature_drift=0.2)
