"""Fitting grid cells: labels, scoring new rows, the fixed metrics, stability and determinism."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from schemas.columns import CUST_ID, RAW_COLUMNS
from tasks.data.synthetic import SEGMENTS, generate_synthetic
from tasks.mlops.model_logging import trusted_types
from tasks.segmentation.algorithms import ALGORITHMS, get_algorithm
from tasks.segmentation.fit import fit_cell, make_cell_pipeline
from tasks.segmentation.grid import GridCell
from tasks.segmentation.metrics import METRIC_NAMES

PER_BLOB = 80
TIMING_METRICS = {"fit_seconds", "cell_seconds"}


# Three well-separated behaviours: dormant, spender (pays in full), cash-advance user.
CENTRES = pd.DataFrame(
    {
        "BALANCE": [40, 300, 5000],
        "BALANCE_FREQUENCY": [1.0, 1.0, 1.0],
        "ONEOFF_PURCHASES": [0, 6000, 0],
        "INSTALLMENTS_PURCHASES": [0, 1500, 0],
        "CASH_ADVANCE": [0, 0, 4000],
        "PURCHASES_FREQUENCY": [0.0, 1.0, 0.0],
        "ONEOFF_PURCHASES_FREQUENCY": [0.0, 0.9, 0.0],
        "PURCHASES_INSTALLMENTS_FREQUENCY": [0.0, 0.5, 0.0],
        "CASH_ADVANCE_FREQUENCY": [0.0, 0.0, 0.8],
        "CASH_ADVANCE_TRX": [0, 0, 20],
        "PURCHASES_TRX": [0, 80, 0],
        "CREDIT_LIMIT": [1500, 9000, 6000],
        "PAYMENTS": [60, 7000, 900],
        "MINIMUM_PAYMENTS": [30, 200, 1500],
        "PRC_FULL_PAYMENT": [0.0, 1.0, 0.0],
        "TENURE": [12, 12, 12],
    }
)
JITTERED = ("BALANCE", "ONEOFF_PURCHASES", "INSTALLMENTS_PURCHASES", "CASH_ADVANCE")
JITTERED += ("CREDIT_LIMIT", "PAYMENTS", "MINIMUM_PAYMENTS")


def blob_frame(per_blob: int = PER_BLOB, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A clean frame of the three CENTRES; amounts vary by about 10 %, shares are fixed."""
    rng = np.random.default_rng(seed)
    truth = rng.permutation(np.repeat(np.arange(len(CENTRES)), per_blob))
    frame = CENTRES.iloc[truth].reset_index(drop=True)
    for column in JITTERED:
        frame[column] = frame[column] * rng.lognormal(0.0, 0.1, len(frame))
    frame["PURCHASES"] = frame["ONEOFF_PURCHASES"] + frame["INSTALLMENTS_PURCHASES"]
    frame[CUST_ID] = [f"B{i:05d}" for i in range(len(frame))]
    for column in ("CASH_ADVANCE_TRX", "PURCHASES_TRX", "TENURE"):
        frame[column] = frame[column].astype("int64")
    for column in set(RAW_COLUMNS) - {CUST_ID, "CASH_ADVANCE_TRX", "PURCHASES_TRX", "TENURE"}:
        frame[column] = frame[column].astype("float64")
    return frame[list(RAW_COLUMNS)], truth


@pytest.fixture(scope="module")
def blobs() -> tuple[pd.DataFrame, np.ndarray]:
    return blob_frame()


def cell_for(algorithm: str, k: int | None = 3, feature_set: str = "log_scaled", **params):
    resolved = get_algorithm(algorithm).resolve(params)
    uses_k = get_algorithm(algorithm).uses_k
    return GridCell(
        feature_set, algorithm, k if uses_k else None, 0, tuple(sorted(resolved.items()))
    )


ALL_CELLS = {
    "kmeans": cell_for("kmeans"),
    "minibatch_kmeans": cell_for("minibatch_kmeans", batch_size=64),
    "gmm": cell_for("gmm", covariance_type="diag"),
    "ward": cell_for("ward"),
    "hdbscan": cell_for("hdbscan", min_cluster_size=20),
}


def fit(cell: GridCell, clean: pd.DataFrame, resamples: int = 10):
    return fit_cell(cell, clean, stability_resamples=resamples, silhouette_sample_size=150)


@pytest.fixture(scope="module")
def fitted(blobs) -> dict[str, object]:
    clean, _ = blobs
    return {name: fit(cell, clean) for name, cell in ALL_CELLS.items()}


def test_every_registered_algorithm_is_exercised() -> None:
    assert set(ALL_CELLS) == set(ALGORITHMS)
    assert {"kmeans", "gmm", "ward", "hdbscan"} <= set(ALGORITHMS)


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_metrics_carry_exactly_the_fixed_names(fitted, name: str) -> None:
    metrics = fitted[name].metrics
    expected = set(METRIC_NAMES) - ({"bic"} if name != "gmm" else set())
    assert set(metrics) == expected
    assert all(isinstance(v, float) and np.isfinite(v) for v in metrics.values())


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_planted_well_separated_blobs_are_recovered(fitted, blobs, name: str) -> None:
    _, truth = blobs
    result = fitted[name]
    assert adjusted_rand_score(truth, result.labels) >= 0.95
    assert result.metrics["n_segments"] == 3
    assert result.metrics["noise_share"] <= 0.05


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_predict_reproduces_the_fit_labels_on_training_rows(fitted, blobs, name: str) -> None:
    clean, _ = blobs
    result = fitted[name]
    assert len(result.labels) == len(clean)
    assert np.array_equal(result.pipeline.predict(clean), result.labels)


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_pipeline_predicts_the_same_labels_after_a_pickle_round_trip(fitted, blobs, name) -> None:
    clean, _ = blobs
    restored = pickle.loads(pickle.dumps(fitted[name].pipeline))
    assert np.array_equal(restored.predict(clean), fitted[name].labels)


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_pipeline_saves_and_loads_in_mlflow_default_format_with_the_trusted_types(
    fitted, blobs, name: str, tmp_path
) -> None:
    import mlflow.sklearn

    clean, _ = blobs
    path = tmp_path / "model"
    mlflow.sklearn.save_model(
        fitted[name].pipeline,
        path,
        pip_requirements=["scikit-learn"],
        skops_trusted_types=trusted_types(),
    )
    restored = mlflow.sklearn.load_model(str(path))
    assert np.array_equal(restored.predict(clean), fitted[name].labels)


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_pipeline_scores_a_new_batch_with_empty_nullable_columns(fitted, name: str) -> None:
    batch, truth = blob_frame(per_blob=10, seed=9)
    batch.loc[:4, "MINIMUM_PAYMENTS"] = np.nan
    batch.loc[5, "CREDIT_LIMIT"] = np.nan
    labels = fitted[name].pipeline.predict(batch)
    assert len(labels) == len(batch)
    assert adjusted_rand_score(truth, labels) >= 0.9


@pytest.mark.parametrize("name", ["kmeans", "minibatch_kmeans", "ward", "hdbscan"])
def test_transform_gives_a_distance_to_every_segment_centre(fitted, blobs, name: str) -> None:
    clean, _ = blobs
    result = fitted[name]
    distances = result.pipeline.transform(clean)
    assert distances.shape == (len(clean), 3)
    assert (distances >= 0).all()
    assert np.array_equal(distances.argmin(axis=1), result.labels)


def test_gmm_gives_membership_probabilities_and_bic(fitted, blobs) -> None:
    clean, _ = blobs
    result = fitted["gmm"]
    probabilities = result.pipeline.predict_proba(clean)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.isfinite(result.metrics["bic"])


@pytest.mark.parametrize("name", sorted(ALL_CELLS))
def test_well_separated_blobs_are_stable_under_resampling(fitted, name: str) -> None:
    metrics = fitted[name].metrics
    assert metrics["stability_ari"] >= 0.9
    assert metrics["stability_ari_std"] <= 0.1


@pytest.mark.parametrize("name", ["kmeans", "gmm", "ward", "hdbscan"])
def test_same_cell_gives_same_labels_and_metrics(blobs, name: str) -> None:
    clean, _ = blobs
    first, second = fit(ALL_CELLS[name], clean), fit(ALL_CELLS[name], clean)
    assert np.array_equal(first.labels, second.labels)
    for metric in set(METRIC_NAMES) - TIMING_METRICS:
        assert first.metrics.get(metric) == second.metrics.get(metric), metric


def test_planted_synthetic_segments_are_recovered_on_log_scaled() -> None:
    clean, planted = generate_synthetic(1_200, 11)
    result = fit(cell_for("kmeans", k=len(SEGMENTS)), clean)
    assert adjusted_rand_score(planted, result.labels) >= 0.9


def test_a_cell_that_finds_no_segment_is_marked_degenerate_not_raised(blobs) -> None:
    clean, _ = blobs
    result = fit(cell_for("hdbscan", min_cluster_size=len(clean) + 1), clean)
    metrics = result.metrics
    assert metrics["degenerate"] == 1.0
    assert metrics["n_segments"] == 0.0
    assert metrics["noise_share"] == 1.0
    assert metrics["silhouette"] == -1.0
    assert metrics["stability_ari"] == 0.0
    assert (result.labels == -1).all()
    assert set(metrics) == set(METRIC_NAMES) - {"bic"}


def test_silhouette_is_sampled_when_the_frame_is_larger_than_the_sample(blobs) -> None:
    clean, _ = blobs
    sampled = fit_cell(
        cell_for("kmeans"), clean, stability_resamples=10, silhouette_sample_size=100
    )
    whole = fit_cell(
        cell_for("kmeans"), clean, stability_resamples=10, silhouette_sample_size=10**6
    )
    assert sampled.metrics["silhouette_sample_size"] == 100
    assert whole.metrics["silhouette_sample_size"] == len(clean)
    assert sampled.metrics["silhouette"] == pytest.approx(whole.metrics["silhouette"], abs=0.05)


def test_cell_pipeline_is_features_then_model() -> None:
    pipeline = make_cell_pipeline(cell_for("ward", feature_set="behavioural_pca"))
    assert [name for name, _ in pipeline.steps] == ["features", "model"]
    assert [name for name, _ in pipeline[0].steps] == ["engineer", "scale", "pca"]
