"""The grid spec fails before any work on bad input; cells are stable, readable and complete."""

from __future__ import annotations

import json

import pytest

from core.errors import ParameterError
from tasks.segmentation.features import FEATURE_SETS
from tasks.segmentation.grid import (
    GridCell,
    GridSpec,
    GridSpecError,
    cells_for_rows,
    default_grid,
    expand_grid,
    parse_grid_spec,
)

BASE = {"feature_sets": ["log_scaled"], "algorithms": [{"name": "kmeans", "ks": [3, 4]}]}


def spec(**overrides: object) -> dict[str, object]:
    return {**BASE, **overrides}


def one_algorithm(**algorithm: object) -> dict[str, object]:
    return spec(algorithms=[algorithm])


BAD_SPECS = {
    "k below 2": (one_algorithm(name="kmeans", ks=[1, 3]), r"every k must be >= 2, got \[1\]"),
    "unknown algorithm": (
        one_algorithm(name="kmedoids", ks=[3]),
        r"unknown algorithm 'kmedoids'; allowed: gmm, hdbscan, kmeans",
    ),
    "no algorithm": (spec(algorithms=[]), r"algorithms is empty; allowed: .*kmeans"),
    "no feature set": (spec(feature_sets=[]), r"feature_sets is empty; allowed: .*log_scaled"),
    "unknown feature set": (
        spec(feature_sets=["log_scaled", "vibes"]),
        r"unknown feature set 'vibes'; allowed: behavioural, behavioural_pca, log_scaled",
    ),
    "k-based algorithm without ks": (one_algorithm(name="gmm"), r"gmm needs at least one k"),
    "ks for hdbscan": (
        one_algorithm(name="hdbscan", ks=[4]),
        r"k does not apply to hdbscan.*min_cluster_size",
    ),
    "bad param value": (
        one_algorithm(name="gmm", ks=[3], params={"covariance_type": "round"}),
        r"covariance_type='round' is invalid; allowed: one of full, tied, diag, spherical",
    ),
    "param below its minimum": (
        one_algorithm(name="hdbscan", params={"min_cluster_size": 1}),
        r"min_cluster_size=1 is invalid; allowed: a whole number >= 2",
    ),
    "unknown param": (
        one_algorithm(name="kmeans", ks=[3], params={"n_clusters": 3}),
        r"unknown kmeans parameter\(s\) n_clusters; allowed: max_iter, n_init",
    ),
    "empty param list": (
        one_algorithm(name="hdbscan", params={"min_cluster_size": []}),
        r"min_cluster_size: an empty list tries nothing",
    ),
    "too few resamples": (
        spec(stability_resamples=9),
        r"stability_resamples must be >= 10, got 9",
    ),
    "tiny silhouette sample": (
        spec(silhouette_sample_size=5),
        r"silhouette_sample_size must be >= 100",
    ),
    "negative seed": (spec(seeds=[-1]), r"seeds must be .* >= 0, got \[-1\]"),
    "no seeds": (spec(seeds=[]), r"seeds must be one or more"),
    "wrong type": (
        one_algorithm(name="kmeans", ks=["four"]),
        r"algorithm 'kmeans'.*ks\.0.*valid integer.*'four'",
    ),
    "unknown key": (spec(colour="red"), r"colour: Extra inputs are not permitted"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_each_bad_grid_spec_fails_at_construction_with_its_message(case: str) -> None:
    data, message = BAD_SPECS[case]
    with pytest.raises(GridSpecError, match=message):
        GridSpec.model_validate(data)
    with pytest.raises(GridSpecError, match=message):
        parse_grid_spec(json.dumps(data))


def test_grid_spec_errors_are_parameter_errors_the_cli_reports() -> None:
    assert issubclass(GridSpecError, ParameterError)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object, got list")],
)
def test_unreadable_json_is_a_grid_spec_error(text: str, message: str) -> None:
    with pytest.raises(GridSpecError, match=message):
        parse_grid_spec(text)


def test_a_spec_reads_the_same_from_json_text_a_dict_or_a_spec() -> None:
    from_dict = parse_grid_spec(BASE)
    assert parse_grid_spec(json.dumps(BASE)) == from_dict
    assert parse_grid_spec(from_dict) is from_dict
    assert from_dict.stability_resamples == 10
    assert from_dict.silhouette_sample_size == 5_000


def test_expand_grid_crosses_feature_sets_ks_params_and_seeds() -> None:
    grid = GridSpec.model_validate(
        {
            "feature_sets": ["log_scaled", "behavioural"],
            "algorithms": [
                {"name": "kmeans", "ks": [3, 4]},
                {"name": "hdbscan", "params": {"min_cluster_size": [50, 100]}},
                {"name": "ward", "ks": [3], "feature_sets": ["behavioural_pca"]},
            ],
            "seeds": [0, 1],
        }
    )
    ids = [cell.cell_id for cell in expand_grid(grid)]
    assert len(ids) == 2 * 2 * 2 + 2 * 2 * 2 + 1 * 1 * 2
    assert ids[0] == "log_scaled|kmeans|k=3|seed=0"
    assert "behavioural|hdbscan|min_cluster_size=100|seed=1" in ids
    assert "behavioural_pca|ward|k=3|seed=1" in ids
    assert not any(i.startswith("behavioural_pca|kmeans") for i in ids)


def test_duplicate_cells_are_fitted_once() -> None:
    grid = GridSpec.model_validate(
        spec(algorithms=[{"name": "kmeans", "ks": [3, 4]}, {"name": "kmeans", "ks": [4, 5]}])
    )
    assert [c.k for c in expand_grid(grid)] == [3, 4, 5]


def test_cell_id_names_non_default_params_and_omits_defaults() -> None:
    grid = GridSpec.model_validate(
        one_algorithm(name="gmm", ks=[4], params={"covariance_type": ["full", "diag"]})
    )
    assert [c.cell_id for c in expand_grid(grid)] == [
        "log_scaled|gmm|k=4|seed=0",
        "log_scaled|gmm|covariance_type=diag|k=4|seed=0",
    ]


def test_cell_params_are_flat_mlflow_values_including_defaults() -> None:
    grid = GridSpec.model_validate(one_algorithm(name="hdbscan", params={"min_cluster_size": 60}))
    (cell,) = expand_grid(grid)
    params = cell.params()
    assert params == {
        "feature_set": "log_scaled",
        "algorithm": "hdbscan",
        "k": "n/a",
        "seed": 0,
        "min_cluster_size": 60,
        "min_samples": "None",
    }
    assert all(isinstance(v, str | int | float) for v in params.values())


def test_cells_are_hashable_values_with_a_stable_id() -> None:
    (first,) = expand_grid(GridSpec.model_validate(one_algorithm(name="ward", ks=[5])))
    (again,) = expand_grid(GridSpec.model_validate(one_algorithm(name="ward", ks=[5])))
    assert first == again and hash(first) == hash(again)
    assert first.cell_id == again.cell_id == "log_scaled|ward|k=5|seed=0"
    assert isinstance(first, GridCell)


def test_default_grid_covers_every_feature_set_and_the_required_algorithms() -> None:
    cells = expand_grid(default_grid())
    assert {c.feature_set for c in cells} == set(FEATURE_SETS)
    assert {"kmeans", "gmm", "ward", "hdbscan"} <= {c.algorithm for c in cells}
    ks = {c.k for c in cells if c.algorithm == "kmeans"}
    assert ks == set(range(2, 9))
    assert default_grid().stability_resamples >= 10
    assert len(cells) == len({c.cell_id for c in cells}) == 61
    finalists = default_grid().finalists
    assert finalists.resamples >= 50 and finalists.seeds >= 2 and finalists.n_init >= 10


def test_every_algorithm_the_report_names_as_compared_is_in_the_default_grid() -> None:
    # The report lists the algorithms of the run's grid only; the default must not drop one
    # whose description claims a role (mini-batch k-means is for grids that outgrow k-means).
    in_grid = {c.algorithm for c in expand_grid(default_grid())}
    assert in_grid == {"kmeans", "gmm", "ward", "hdbscan"}


def test_a_grid_spec_is_frozen() -> None:
    grid = default_grid()
    with pytest.raises(Exception, match="frozen"):
        grid.seeds = [1]  # type: ignore[misc]


def _cells(ks: list[int], algorithms: tuple[str, ...] = ("kmeans",)) -> list[GridCell]:
    spec = parse_grid_spec(
        {
            "feature_sets": ["log_scaled"],
            "algorithms": [
                {"name": name, "ks": ks}
                if name != "hdbscan"
                else {"name": "hdbscan", "params": {"min_cluster_size": [50]}}
                for name in algorithms
            ],
        }
    )
    return expand_grid(spec)


def test_cells_that_ask_for_more_segments_than_rows_are_skipped_and_named() -> None:
    kept, note = cells_for_rows(_cells([3, 12, 40]), rows=20)

    assert [cell.k for cell in kept] == [3, 12]
    assert note == (
        "skipped 1 grid cell(s) that need more than 20 customers: log_scaled|kmeans|k=40|seed=0"
    )


def test_k_must_stay_below_the_row_count_for_a_silhouette() -> None:
    kept, _ = cells_for_rows(_cells([19, 20]), rows=20)

    assert [cell.k for cell in kept] == [19]


def test_cells_without_k_are_kept_on_few_rows() -> None:
    kept, note = cells_for_rows(_cells([30], ("kmeans", "hdbscan")), rows=20)

    assert [cell.algorithm for cell in kept] == ["hdbscan"]
    assert note is not None and "k=30" in note


def test_a_grid_with_no_cell_that_fits_is_one_clear_error() -> None:
    with pytest.raises(GridSpecError, match=r"every grid cell needs more customers than the 5 "):
        cells_for_rows(_cells([8, 9]), rows=5)
