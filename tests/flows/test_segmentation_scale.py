"""The scale path through the whole flow, on Parquet input, with a low size threshold."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from core.settings import PipelineSettings
from schemas.columns import CUST_ID
from tasks.data.synthetic import generate_synthetic
from tasks.segmentation.grid import parse_grid_spec

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

ROWS = 3_000
GRID = parse_grid_spec(
    {
        "feature_sets": ["log_scaled"],
        "algorithms": [
            {"name": "kmeans", "ks": [3, 4]},
            {"name": "ward", "ks": [4]},
        ],
        "finalists": {"count": 2, "seeds": 2, "resamples": 50, "n_init": 2, "max_rows": 1_000},
        "silhouette_sample_size": 500,
        "scale": {
            "sample_above_rows": 2_000,
            "fit_sample_rows": 1_200,
            "bounded_fit_rows": 600,
            "stability_rows": 800,
            "predict_chunk_rows": 1_000,
        },
    }
)


@pytest.fixture(scope="module")
def scaled_run(tmp_path_factory: pytest.TempPathFactory):
    from flows.segmentation import segmentation

    work_dir = tmp_path_factory.mktemp("scale")
    clean = generate_synthetic(ROWS, seed=5)[0]
    broken = clean.head(2).assign(BALANCE=[-1.0, -2.0])  # two rows the contract must quarantine
    data = pd.concat([clean, broken.assign(CUST_ID=["X1", "X2"])], ignore_index=True)
    path = work_dir / "customers.parquet"
    data.to_parquet(path, index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CCSEG_WORK_DIR", str(work_dir))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        summary = segmentation(data_path=path, grid=GRID)
        settings = PipelineSettings()
    return summary, settings, clean


def test_parquet_input_keeps_the_invariant_and_quarantines_through_the_flow(scaled_run) -> None:
    summary, _, _ = scaled_run

    assert summary.rows_in == ROWS + 2
    assert summary.rows_in == summary.rows_clean + summary.rows_quarantined
    assert summary.rows_quarantined == 2


def test_above_the_threshold_the_sample_is_recorded_and_every_customer_assigned(scaled_run):
    summary, settings, clean = scaled_run

    segments = pd.read_csv(summary.segments_path)
    assert sorted(segments[CUST_ID]) == sorted(clean[CUST_ID])
    run = mlflow.MlflowClient(settings.tracking_uri).get_run(summary.parent_run_id)
    assert run.data.params["scale.sampled"] == "True"
    assert run.data.params["scale.sample_rows"] == "1200"
    assert run.data.params["scale.rows_total"] == str(ROWS)


def test_every_customer_is_assigned_as_the_registered_model_scores_them(scaled_run) -> None:
    summary, settings, clean = scaled_run
    mlflow.set_tracking_uri(settings.tracking_uri)
    model = mlflow.pyfunc.load_model(
        f"models:/{summary.promotion.model_name}@{summary.promotion.alias}"
    )

    rescored = model.get_raw_model().predict(clean)
    segments = pd.read_csv(summary.segments_path).set_index(CUST_ID)

    expected = rescored.set_index(CUST_ID)["segment"]
    pd.testing.assert_series_equal(
        segments.loc[expected.index, "segment"], expected, check_names=False, check_dtype=False
    )
