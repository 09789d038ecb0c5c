"""Report inputs from a quick stand-in grid (k-means, Gaussian mixtures) on the real features.

For tests, demos and the report's own development: it produces `ReportInputs` from any clean
frame without running the segmentation flow. Features and model spaces are the flow's own
(tasks/segmentation/features.py); the grid is small and the stability a cheap seed-to-seed ARI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture

from tasks.report.build import ReportInputs
from tasks.report.feature_notes import feature_notes
from tasks.segmentation.features import FEATURE_SETS, engineer_features, make_feature_pipeline
from tasks.segmentation.selection import eligibility, select_cell

DEMO_KS = (3, 4, 5, 6)
DEMO_SEEDS = (0, 1)
DEMO_ALGORITHMS = ("kmeans", "gmm")
DEMO_FEATURE_SETS = ("behavioural",)


def _fit(algorithm: str, k: int, seed: int, space: np.ndarray) -> tuple[np.ndarray, float]:
    """Labels and BIC (NaN where the model has no likelihood)."""
    if algorithm == "kmeans":
        return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(space), np.nan
    model = GaussianMixture(n_components=k, covariance_type="diag", random_state=seed)
    model.fit(space)
    return model.predict(space), float(model.bic(space))


def _metrics(space: np.ndarray, labels: np.ndarray, k: int, bic: float) -> dict:
    shares = np.bincount(labels, minlength=k) / len(labels)
    return {
        "silhouette": float(silhouette_score(space, labels, sample_size=2000, random_state=0)),
        "davies_bouldin": float(davies_bouldin_score(space, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(space, labels)),
        "bic": bic,
        "n_segments": int((shares > 0).sum()),
        "min_segment_share": float(shares[shares > 0].min()),
        "max_segment_share": float(shares.max()),
        "noise_share": 0.0,
    }


def demo_grid(
    spaces: dict[str, np.ndarray],
    algorithms: tuple[str, ...] = DEMO_ALGORITHMS,
    ks: tuple[int, ...] = DEMO_KS,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Grid table in the flow's shape, and each cell's labels; stability is ARI across seeds."""
    rows, fitted = [], {}
    for feature_set, space in spaces.items():
        for algorithm in algorithms:
            for k in ks:
                runs = {seed: _fit(algorithm, k, seed, space) for seed in DEMO_SEEDS}
                for seed, (labels, bic) in runs.items():
                    others = [
                        adjusted_rand_score(labels, o) for s, (o, _) in runs.items() if s != seed
                    ]
                    cell_id = f"{feature_set}-{algorithm}-k{k}-s{seed}"
                    fitted[cell_id] = labels
                    rows.append(
                        {
                            "cell_id": cell_id,
                            "feature_set": feature_set,
                            "algorithm": algorithm,
                            "k": k,
                            "seed": seed,
                            **_metrics(space, labels, k, bic),
                            "stability_ari": float(np.mean(others)),
                            "stability_ari_std": float(np.std(others)),
                            "fit_seconds": 0.0,
                        }
                    )
    grid = pd.DataFrame(rows)
    grid["eligible"] = eligibility(grid)["eligible"]
    return grid, fitted


def demo_inputs(
    clean: pd.DataFrame,
    validation: dict,
    is_synthetic: bool,
    previous_labels: pd.Series | None = None,
    algorithms: tuple[str, ...] = DEMO_ALGORITHMS,
    ks: tuple[int, ...] = DEMO_KS,
    feature_sets: tuple[str, ...] = DEMO_FEATURE_SETS,
) -> ReportInputs:
    """Everything `build_report` needs, from a clean frame and its validation summary."""
    spaces = {name: make_feature_pipeline(name).fit_transform(clean) for name in feature_sets}
    grid, fitted = demo_grid(spaces, algorithms, ks)
    selection = select_cell(grid)
    chosen = grid.set_index("cell_id").loc[selection.chosen_cell_id]
    labels = pd.Series(fitted[selection.chosen_cell_id], name="segment")
    space = spaces[str(chosen["feature_set"])]
    return ReportInputs(
        clean=clean,
        features=engineer_features(clean),
        labels=labels,
        validation=validation,
        grid=grid,
        chosen_cell_id=selection.chosen_cell_id,
        selection_reasoning=selection.reasoning,
        feature_set_descriptions={name: FEATURE_SETS[name].why for name in feature_sets},
        algorithm_descriptions={
            "kmeans": "k-means: compact, similar-sized segments; fast and easy to score.",
            "gmm": "Gaussian mixture (diagonal): soft, elliptical segments with a BIC.",
        },
        feature_notes=feature_notes(clean),
        silhouette_samples=silhouette_samples(space, labels.to_numpy()),
        model_space=space,
        previous_labels=previous_labels,
        run_meta={
            "mlflow_run_id": "demo",
            "prefect_flow_run_id": "demo",
            "data_sha256": validation.get("sha256", "n/a"),
            "code_version": "demo",
            "generated_at": "demo",
            "is_synthetic": is_synthetic,
        },
    )
