"""The clustering algorithms of the grid, each an estimator that can also score new customers.

k-means and the Gaussian mixture predict natively (k-means also gives distances to its centres,
the mixture gives probabilities). Ward and HDBSCAN have no `predict`: a new row takes the label of
its nearest training row in the model's feature space. That reproduces the fitted labels exactly
on the training rows (a training row is its own nearest neighbour), so scoring the training file
with the registered model gives the flow's own assignments. HDBSCAN's noise stays -1, in training
and in scoring: calling an outlier a member of a segment would misstate both; its share is the
`noise_share` metric and the selection rule limits it. The Ward and HDBSCAN estimators live in
`tasks/model/segment_model.py` because they ship inside the registered model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.mixture import GaussianMixture

from core.errors import ParameterError
from tasks.model.segment_model import HDBSCANClusterer, WardClusterer

ParamValue = str | int | float | bool | None


@dataclass(frozen=True)
class ParamRule:
    """One allowed parameter of an algorithm: its type, default and the values it may take."""

    kind: type
    default: ParamValue
    minimum: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    in_cell_id: bool = False  # always named in the cell id (else only when not the default)

    def allowed(self) -> str:
        if self.choices is not None:
            return f"one of {', '.join(self.choices)}"
        text = f"{'a whole number' if self.kind is int else 'a number'}"
        text += f" >= {self.minimum:g}" if self.minimum is not None else ""
        return text + (" or null" if self.nullable else "")

    def check(self, algorithm: str, name: str, value: object) -> ParamValue:
        if value is None and self.nullable:
            return None
        ok = isinstance(value, self.kind) and not isinstance(value, bool)
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        ok = ok and (self.minimum is None or value >= self.minimum)
        ok = ok and (self.choices is None or value in self.choices)
        if not ok:
            raise ParameterError(
                f"{algorithm} parameter {name}={value!r} is invalid; allowed: {self.allowed()}"
            )
        return value  # type: ignore[return-value]


Builder = Callable[[int | None, int, Mapping[str, ParamValue]], BaseEstimator]


@dataclass(frozen=True)
class Algorithm:
    """A grid algorithm: whether k applies, its parameters, how to build it, and why it is here."""

    name: str
    uses_k: bool
    params: Mapping[str, ParamRule]
    build: Builder
    why: str
    # Cap on the rows of each stability resample: O(n^2) methods refit on a subsample.
    stability_rows: int | None = None
    # Whether the seed changes the result (random starts); Ward and HDBSCAN are deterministic.
    seeded: bool = True
    # O(n^2) fit: fitted on at most ScaleSpec.bounded_fit_rows customers, the rest labelled by
    # their nearest training row (so the saved model never holds more rows than that).
    bounded_fit: bool = False

    def resolve(self, params: Mapping[str, object]) -> dict[str, ParamValue]:
        """Every parameter with its default filled in; an unknown or bad one is a ParameterError."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            allowed = ", ".join(sorted(self.params)) or "none"
            raise ParameterError(
                f"unknown {self.name} parameter(s) {', '.join(unknown)}; allowed: {allowed}"
            )
        return {
            name: rule.check(self.name, name, params[name]) if name in params else rule.default
            for name, rule in sorted(self.params.items())
        }


def _kmeans(k: int | None, seed: int, p: Mapping[str, ParamValue]) -> BaseEstimator:
    return KMeans(n_clusters=k, n_init=p["n_init"], max_iter=p["max_iter"], random_state=seed)


def _minibatch_kmeans(k: int | None, seed: int, p: Mapping[str, ParamValue]) -> BaseEstimator:
    return MiniBatchKMeans(
        n_clusters=k, batch_size=p["batch_size"], n_init=p["n_init"], random_state=seed
    )


def _gmm(k: int | None, seed: int, p: Mapping[str, ParamValue]) -> BaseEstimator:
    return GaussianMixture(
        n_components=k,
        covariance_type=p["covariance_type"],
        n_init=p["n_init"],
        reg_covar=p["reg_covar"],
        random_state=seed,
    )


def _ward(k: int | None, seed: int, p: Mapping[str, ParamValue]) -> BaseEstimator:
    return WardClusterer(n_clusters=k)


def _hdbscan(k: int | None, seed: int, p: Mapping[str, ParamValue]) -> BaseEstimator:
    return HDBSCANClusterer(min_cluster_size=p["min_cluster_size"], min_samples=p["min_samples"])


# Ward's fit is O(n^2) and HDBSCAN's is slow too (measured per cell in tasks/grid.default_grid):
# ten full-size refits would dominate the grid, so their stability resamples are 3,000 rows.
SUBSAMPLED_STABILITY_ROWS = 3_000

ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "kmeans",
            True,
            {"n_init": ParamRule(int, 10, minimum=1), "max_iter": ParamRule(int, 300, minimum=10)},
            _kmeans,
            "Compact, similar-sized segments; the reference method (10 k-means++ starts: with 4, "
            "seeds disagreed at k = 3 and 6 on the real data and the optimiser was measured).",
        ),
        Algorithm(
            "minibatch_kmeans",
            True,
            {
                "batch_size": ParamRule(int, 1024, minimum=64),
                "n_init": ParamRule(int, 3, minimum=1),
            },
            _minibatch_kmeans,
            "k-means for portfolios of millions: fits on mini-batches at near-constant memory.",
        ),
        Algorithm(
            "gmm",
            True,
            {
                "covariance_type": ParamRule(
                    str, "full", choices=("full", "tied", "diag", "spherical")
                ),
                "n_init": ParamRule(int, 1, minimum=1),
                "reg_covar": ParamRule(float, 1e-6, minimum=0.0),
            },
            _gmm,
            "Elliptical segments of different sizes and soft membership.",
        ),
        Algorithm(
            "ward",
            True,
            {},
            _ward,
            "Hierarchical: shows how segments nest as k grows; no random start.",
            stability_rows=SUBSAMPLED_STABILITY_ROWS,
            seeded=False,
            bounded_fit=True,
        ),
        Algorithm(
            "hdbscan",
            False,
            {
                "min_cluster_size": ParamRule(int, 100, minimum=2, in_cell_id=True),
                "min_samples": ParamRule(int, None, minimum=1, nullable=True),
            },
            _hdbscan,
            "Density-based: finds its own number of segments and names outliers as noise.",
            stability_rows=SUBSAMPLED_STABILITY_ROWS,
            seeded=False,
            bounded_fit=True,
        ),
    )
}


def get_algorithm(name: str) -> Algorithm:
    """The algorithm called `name`; an unknown name is a ParameterError listing the known ones."""
    if name not in ALGORITHMS:
        raise ParameterError(
            f"unknown algorithm {name!r}; allowed: {', '.join(sorted(ALGORITHMS))}"
        )
    return ALGORITHMS[name]


def resample_params(
    algorithm: str, params: Mapping[str, ParamValue], rows: int, full_rows: int
) -> dict[str, ParamValue]:
    """Parameters for a refit on `rows` of `full_rows`: HDBSCAN's minimum size scales with n."""
    scaled = dict(params)
    if algorithm == "hdbscan" and rows < full_rows:
        size = round(int(params["min_cluster_size"]) * rows / full_rows)  # type: ignore[arg-type]
        scaled["min_cluster_size"] = max(2, size)
    return scaled
