"""Figures are PNGs, identical across renders (so MLflow and the HTML hold the same bytes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.profiling.naming import NOISE_NAME, name_segments
from tasks.profiling.profiles import profile_segments
from tasks.profiling.traits import behaviour_traits
from tasks.report.figures import (
    metrics_vs_k_figure,
    profile_figure_key,
    projection_figure,
    render_figures,
    segment_colours,
    series_styles,
)
from tasks.segmentation.features import engineer_features

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def analysed():
    clean, planted = generate_synthetic(1500, seed=9)
    labels = pd.Series(pd.factorize(planted, sort=True)[0])
    features = engineer_features(clean)
    profiles = profile_segments(clean, features, labels)
    names = name_segments(behaviour_traits(clean), labels)
    return profiles, names, labels


def _grid() -> pd.DataFrame:
    rows = []
    for algorithm, ks in (("kmeans", [3, 4, 5]), ("gmm", [3, 4, 5]), ("hdbscan", [np.nan])):
        for k in ks:
            for seed in (0, 1):
                rows.append(
                    {
                        "cell_id": f"{algorithm}-{k}-{seed}",
                        "feature_set": "core",
                        "algorithm": algorithm,
                        "k": k,
                        "seed": seed,
                        "silhouette": 0.3 + 0.01 * seed,
                        "davies_bouldin": 1.1,
                        "stability_ari": 0.8,
                        "bic": 1000.0 if algorithm == "gmm" else np.nan,
                        "n_segments": 4 if np.isnan(k) else k,
                    }
                )
    return pd.DataFrame(rows)


def _render(analysed, silhouette=True):
    profiles, names, labels = analysed
    rng = np.random.default_rng(0)
    return render_figures(
        profiles,
        names,
        labels,
        _grid(),
        "kmeans-4-0",
        rng.normal(size=(len(labels), 2)),
        "PCA",
        rng.uniform(-0.2, 0.8, len(labels)) if silhouette else None,
    )


def test_two_renders_give_byte_identical_pngs(analysed):
    first, second = _render(analysed), _render(analysed)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name].startswith(PNG_MAGIC), name
        assert first[name] == second[name], f"{name} differs between renders"
        assert b"Software" not in first[name] and b"matplotlib" not in first[name]


def test_every_segment_has_a_profile_figure_and_the_overview_figures_exist(analysed):
    profiles = analysed[0]
    figures = _render(analysed)
    expected = {"segment_sizes", "zscore_heatmap", "projection_2d", "metrics_vs_k", "silhouette"}
    assert expected <= set(figures)
    assert {profile_figure_key(s) for s in profiles.segments} <= set(figures)


def test_no_silhouette_figure_without_silhouette_samples(analysed):
    assert "silhouette" not in _render(analysed, silhouette=False)


def test_metrics_figure_changes_when_another_cell_is_chosen():
    grid = _grid()
    assert metrics_vs_k_figure(grid, "kmeans-4-0") != metrics_vs_k_figure(grid, "gmm-5-1")


def test_noise_gets_grey_and_the_unclustered_name_and_the_projection_still_renders(analysed):
    labels = analysed[2]
    assert segment_colours([-1, 0, 1])[-1] == "#9e9e9e"
    with_noise = labels.copy()
    with_noise.iloc[:40] = -1
    clean, _ = generate_synthetic(1500, seed=9)
    noisy_names = name_segments(behaviour_traits(clean), with_noise)
    assert noisy_names[-1].name == NOISE_NAME
    assert segment_colours(sorted(noisy_names))[-1] == "#9e9e9e"
    png = projection_figure(np.zeros((len(labels), 2)), with_noise, noisy_names, "PCA")
    assert png.startswith(PNG_MAGIC)


def test_segment_colours_do_not_depend_on_the_order_ids_are_given():
    assert segment_colours([2, 0, 1]) == segment_colours([0, 1, 2])


def test_every_metrics_series_has_its_own_style_even_past_the_palette():
    series = [(algorithm, f"set{i}") for algorithm in ("kmeans", "gmm", "ward") for i in range(7)]
    styles = series_styles(series)
    assert len(set(styles.values())) == len(series) == 21
