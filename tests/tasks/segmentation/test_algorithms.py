"""The grid's algorithms: parameter rules, defaults, clear errors and resample scaling."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from tasks.model.segment_model import HDBSCANClusterer, WardClusterer
from tasks.segmentation.algorithms import ALGORITHMS, ParamRule, get_algorithm, resample_params


def test_unknown_algorithm_lists_the_known_ones() -> None:
    with pytest.raises(ParameterError) as caught:
        get_algorithm("magic")
    assert str(caught.value) == (
        "unknown algorithm 'magic'; allowed: gmm, hdbscan, kmeans, minibatch_kmeans, ward"
    )


def test_resolve_fills_every_default() -> None:
    assert get_algorithm("kmeans").resolve({}) == {"max_iter": 300, "n_init": 10}
    assert get_algorithm("gmm").resolve({"n_init": 2}) == {
        "covariance_type": "full",
        "n_init": 2,
        "reg_covar": 1e-6,
    }


def test_resolve_names_an_unknown_parameter_and_the_allowed_ones() -> None:
    with pytest.raises(ParameterError, match=r"^unknown kmeans parameter\(s\) tol; allowed: "):
        get_algorithm("kmeans").resolve({"tol": 0.1})
    with pytest.raises(ParameterError, match=r"parameter\(s\) k; allowed: none$"):
        get_algorithm("ward").resolve({"k": 3})


BAD_VALUES = {
    "below the minimum": ("kmeans", "n_init", 0, "a whole number >= 1"),
    "a float for a whole number": ("kmeans", "n_init", 2.5, "a whole number >= 1"),
    "a bool for a number": ("kmeans", "max_iter", True, "a whole number >= 10"),
    "not a choice": ("gmm", "covariance_type", "round", "one of full, tied, diag, spherical"),
    "null where not nullable": ("hdbscan", "min_cluster_size", None, "a whole number >= 2"),
}


@pytest.mark.parametrize(
    ("algorithm", "name", "value", "allowed"), BAD_VALUES.values(), ids=BAD_VALUES
)
def test_a_bad_parameter_value_names_the_value_and_what_is_allowed(
    algorithm: str, name: str, value: object, allowed: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        get_algorithm(algorithm).resolve({name: value})
    assert str(caught.value) == (
        f"{algorithm} parameter {name}={value!r} is invalid; allowed: {allowed}"
    )


def test_an_int_is_accepted_where_a_float_is_expected_and_null_where_nullable() -> None:
    assert ParamRule(float, 1.0, minimum=0.0).check("gmm", "reg_covar", 1) == 1.0
    assert get_algorithm("hdbscan").resolve({"min_samples": None})["min_samples"] is None


def test_each_algorithm_builds_its_estimator_with_k_and_seed() -> None:
    kmeans = get_algorithm("kmeans").build(5, 7, get_algorithm("kmeans").resolve({}))
    ward = get_algorithm("ward").build(3, 0, {})
    hdbscan = get_algorithm("hdbscan").build(None, 0, get_algorithm("hdbscan").resolve({}))

    assert (kmeans.n_clusters, kmeans.random_state) == (5, 7)
    assert isinstance(ward, WardClusterer) and ward.n_clusters == 3
    assert isinstance(hdbscan, HDBSCANClusterer) and hdbscan.min_cluster_size == 100


def test_only_the_quadratic_methods_subsample_their_stability_refits() -> None:
    subsampled = {name for name, a in ALGORITHMS.items() if a.stability_rows is not None}
    assert subsampled == {"ward", "hdbscan"}


def test_hdbscan_resamples_scale_the_minimum_segment_size() -> None:
    params = {"min_cluster_size": 100, "min_samples": None}
    assert resample_params("hdbscan", params, 3_000, 9_000)["min_cluster_size"] == 33
    assert resample_params("hdbscan", {"min_cluster_size": 3}, 10, 9_000)["min_cluster_size"] == 2
    assert resample_params("hdbscan", params, 9_000, 9_000) == params
    assert resample_params("kmeans", {"n_init": 4}, 3_000, 9_000) == {"n_init": 4}
