"""The experiment grid: its spec (validated before any work), its cells, and the default grid."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import ParameterError
from tasks.segmentation.algorithms import ALGORITHMS, ParamValue, get_algorithm
from tasks.segmentation.features import FEATURE_SETS, get_feature_set
from tasks.segmentation.scale import ScaleSpec

MIN_STABILITY_RESAMPLES = 10
MIN_SILHOUETTE_SAMPLE = 100
MIN_FINALIST_RESAMPLES = 50
MIN_FINALIST_ROWS = 500


class GridSpecError(ParameterError):
    """The grid spec is invalid: raised while building it, before any cell is fitted."""


@dataclass(frozen=True)
class GridCell:
    """One experiment: a feature set, an algorithm with its parameters, k (None: n/a) and a seed."""

    feature_set: str
    algorithm: str
    k: int | None
    seed: int
    algorithm_params: tuple[tuple[str, ParamValue], ...] = ()

    @property
    def cell_id(self) -> str:
        """Stable, readable id (an MLflow tag): `log_scaled|gmm|k=4|seed=0`.

        Names the parameters that differ from their defaults (and HDBSCAN's min_cluster_size).
        """
        rules = get_algorithm(self.algorithm).params
        shown = [
            f"{name}={value}"
            for name, value in self.algorithm_params
            if rules[name].in_cell_id or value != rules[name].default
        ]
        k = [f"k={self.k}"] if self.k is not None else []
        return "|".join([self.feature_set, self.algorithm, *shown, *k, f"seed={self.seed}"])

    def model_params(self) -> dict[str, ParamValue]:
        return dict(self.algorithm_params)

    def params(self) -> dict[str, str | int | float]:
        """Everything that defines the cell, flat, for `mlflow.log_params`."""
        flat: dict[str, str | int | float] = {
            "feature_set": self.feature_set,
            "algorithm": self.algorithm,
            "k": self.k if self.k is not None else "n/a",
            "seed": self.seed,
        }
        for name, value in self.algorithm_params:
            flat[name] = "None" if value is None or isinstance(value, bool) else value
        return flat


def _pydantic_problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'spec'}: {err['msg']} (got {err.get('input')!r})"
        for err in exc.errors()
    )


class _Spec(BaseModel):
    """Pydantic errors become one GridSpecError that names each bad value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _as_grid_spec_error(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            named = isinstance(data, dict) and "name" in data and "algorithms" not in data
            where = f" (algorithm {data['name']!r})" if named else ""
            where = " (finalists)" if cls.__name__ == "FinalistSpec" else where
            raise GridSpecError(f"invalid grid spec{where}: {_pydantic_problems(exc)}") from None
        except ParameterError as exc:
            raise GridSpecError(str(exc)) from None


def _check_feature_sets(names: list[str]) -> list[str]:
    for name in names:
        try:
            get_feature_set(name)
        except ParameterError as exc:
            raise GridSpecError(str(exc)) from None
    return names


class AlgorithmSpec(_Spec):
    """An algorithm, the ks to try, and its parameters (a list value expands to several cells)."""

    name: str
    ks: list[int] = Field(default_factory=list)
    params: dict[str, ParamValue | list[ParamValue]] = Field(default_factory=dict)
    feature_sets: list[str] | None = None  # None: the grid's feature sets

    @model_validator(mode="after")
    def _valid(self) -> AlgorithmSpec:
        try:
            algorithm = get_algorithm(self.name)
        except ParameterError as exc:
            raise GridSpecError(str(exc)) from None
        if algorithm.uses_k and not self.ks:
            raise GridSpecError(f"{self.name} needs at least one k in ks (each k >= 2)")
        if not algorithm.uses_k and self.ks:
            raise GridSpecError(
                f"k does not apply to {self.name} (it finds its own number of segments): "
                f"leave ks empty and set min_cluster_size in params, got ks={self.ks}"
            )
        bad_ks = [k for k in self.ks if k < 2]
        if bad_ks:
            raise GridSpecError(f"{self.name}: every k must be >= 2, got {bad_ks}")
        for combination in self.param_combinations():
            algorithm.resolve(combination)  # raises on a bad name or value
        if self.feature_sets is not None:
            if not self.feature_sets:
                raise GridSpecError(f"{self.name}: feature_sets, when given, must not be empty")
            _check_feature_sets(self.feature_sets)
        return self

    def param_combinations(self) -> list[dict[str, ParamValue]]:
        names = sorted(self.params)
        choices = []
        for name in names:
            value = self.params[name]
            if isinstance(value, list) and not value:
                raise GridSpecError(f"{self.name} parameter {name}: an empty list tries nothing")
            choices.append(value if isinstance(value, list) else [value])
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*choices)]


class FinalistSpec(_Spec):
    """How the shortlisted cells are re-measured before the choice (tasks/segmentation/finalists).

    The grid's own stability (10 resamples, one seed, 4 k-means starts) is a screen: noisy, and
    partly a measure of the optimiser. Finalists are refitted with several seeds and more starts,
    and resampled at least 50 times, so the choice rests on a confidence interval. Resamples and
    refits run on at most `max_rows` customers (a fixed seeded subsample when there are more), so
    the cost stays bounded however large the portfolio grows.
    """

    count: int = Field(4, ge=1, le=12)
    seeds: int = Field(3, ge=1, le=10)
    resamples: int = Field(MIN_FINALIST_RESAMPLES, ge=MIN_FINALIST_RESAMPLES, le=1_000)
    n_init: int = Field(10, ge=1, le=100)
    max_rows: int = Field(20_000, ge=MIN_FINALIST_ROWS)


class GridSpec(_Spec):
    """The experiment grid: feature sets x algorithms (x their ks and params) x seeds."""

    feature_sets: list[str]
    algorithms: list[AlgorithmSpec]
    seeds: list[int] = Field(default_factory=lambda: [0])
    stability_resamples: int = MIN_STABILITY_RESAMPLES
    silhouette_sample_size: int = 5_000
    finalists: FinalistSpec = Field(default_factory=FinalistSpec)
    # Sizes above which the grid samples and bounds its fits (tasks/segmentation/scale.py).
    scale: ScaleSpec = Field(default_factory=ScaleSpec)

    @field_validator("feature_sets")
    @classmethod
    def _known_feature_sets(cls, names: list[str]) -> list[str]:
        if not names:
            raise GridSpecError(
                f"feature_sets is empty; allowed: {', '.join(sorted(FEATURE_SETS))}"
            )
        return _check_feature_sets(names)

    @field_validator("algorithms")
    @classmethod
    def _some_algorithm(cls, algorithms: list[AlgorithmSpec]) -> list[AlgorithmSpec]:
        if not algorithms:
            raise GridSpecError(f"algorithms is empty; allowed: {', '.join(sorted(ALGORITHMS))}")
        return algorithms

    @field_validator("seeds")
    @classmethod
    def _valid_seeds(cls, seeds: list[int]) -> list[int]:
        if not seeds or any(s < 0 for s in seeds):
            raise GridSpecError(f"seeds must be one or more whole numbers >= 0, got {seeds}")
        return seeds

    @field_validator("stability_resamples")
    @classmethod
    def _enough_resamples(cls, value: int) -> int:
        if value < MIN_STABILITY_RESAMPLES:
            raise GridSpecError(
                f"stability_resamples must be >= {MIN_STABILITY_RESAMPLES}, got {value}"
            )
        return value

    @field_validator("silhouette_sample_size")
    @classmethod
    def _sample_size(cls, value: int) -> int:
        if value < MIN_SILHOUETTE_SAMPLE:
            raise GridSpecError(
                f"silhouette_sample_size must be >= {MIN_SILHOUETTE_SAMPLE}, got {value}"
            )
        return value

    def cells(self) -> list[GridCell]:
        return expand_grid(self)


def parse_grid_spec(value: GridSpec | dict[str, Any] | str) -> GridSpec:
    """A GridSpec from a GridSpec, a dict or JSON text (the flow parameter and the CLI's)."""
    if isinstance(value, GridSpec):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise GridSpecError(f"grid spec is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise GridSpecError(f"grid spec must be a JSON object, got {type(value).__name__}")
    return GridSpec.model_validate(value)


def expand_grid(spec: GridSpec) -> list[GridCell]:
    """Every cell of the grid, in spec order, without duplicates."""
    cells: dict[str, GridCell] = {}
    for algo_spec in spec.algorithms:
        algorithm = get_algorithm(algo_spec.name)
        ks: list[int | None] = list(algo_spec.ks) if algorithm.uses_k else [None]
        combos = [algorithm.resolve(c) for c in algo_spec.param_combinations()]
        for feature_set, params, k, seed in itertools.product(
            algo_spec.feature_sets or spec.feature_sets, combos, ks, spec.seeds
        ):
            cell = GridCell(feature_set, algorithm.name, k, seed, tuple(sorted(params.items())))
            cells.setdefault(cell.cell_id, cell)
    return list(cells.values())


def default_grid() -> GridSpec:
    """The grid `ccseg run` uses: 61 cells, about 75 s of serial compute on the real data.

    Then 4 finalists are re-measured (3 seeds, 10 k-means starts, 50 resamples each).

    Sized from per-cell times measured on the 8,950 real rows (one thread per cell, 10 stability
    resamples, silhouette on 5,000 rows, this 2-core machine): k-means 0.3-0.8 s a cell, GMM
    0.5-2.9 s, Ward 2.5-3.6 s (its fit alone 1.3-1.6 s), HDBSCAN 1.4-2.9 s; 74 s run one after
    another, 55 s of wall time two at a time (102 s and 57 s while other jobs shared the cores).
    What is in and why:
    - k-means, k = 2..8, on every feature set: cheap, and the baseline for every comparison.
    - GMM, k = 2..8, not on raw_scaled: Gaussian components on raw amounts (skewness up to 14)
      separated worst (silhouette 0.00-0.11) and were unstable (bootstrap ARI 0.47-0.80) for
      k >= 3.
    - Ward, k = 3..6, on the two behavioural sets only (best separation among the k-means runs);
      its stability refits use 3,000-row resamples (O(n^2) fit).
    - HDBSCAN, min_cluster_size 50 and 200, on log_scaled (shows the size features have no
      density structure: 80 % noise) and behavioural_pca (6-23 % noise).
    """
    every_k = list(range(2, 9))
    return GridSpec.model_validate(
        {
            "feature_sets": list(FEATURE_SETS),
            "algorithms": [
                {"name": "kmeans", "ks": every_k},
                {
                    "name": "gmm",
                    "ks": every_k,
                    "feature_sets": ["log_scaled", "behavioural", "behavioural_pca"],
                },
                {
                    "name": "ward",
                    "ks": [3, 4, 5, 6],
                    "feature_sets": ["behavioural", "behavioural_pca"],
                },
                {
                    "name": "hdbscan",
                    "params": {"min_cluster_size": [50, 200]},
                    "feature_sets": ["log_scaled", "behavioural_pca"],
                },
            ],
            "seeds": [0],
            "stability_resamples": MIN_STABILITY_RESAMPLES,
            "silhouette_sample_size": 5_000,
            "finalists": {"count": 4, "seeds": 3, "resamples": 50, "n_init": 10},
        }
    )


def _rows_needed(cell: GridCell) -> int:
    """The fewest customers a cell can be fitted and scored on: a silhouette needs one row more
    than segments (HDBSCAN copes with any size: too few rows is all noise, a degenerate cell)."""
    return cell.k + 1 if cell.k is not None else 2


def cells_for_rows(cells: list[GridCell], rows: int) -> tuple[list[GridCell], str | None]:
    """The cells that can be fitted on `rows` customers, and a note naming those skipped.

    One impossible cell (k = 8 on 5 customers) must not sink the others; no possible cell at
    all is the user's to fix.
    """
    kept = [cell for cell in cells if _rows_needed(cell) <= rows]
    skipped = [cell.cell_id for cell in cells if _rows_needed(cell) > rows]
    if not kept:
        raise GridSpecError(
            f"every grid cell needs more customers than the {rows:,} clean row(s): "
            f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}; "
            "use smaller k (--grid) or more data"
        )
    note = (
        f"skipped {len(skipped)} grid cell(s) that need more than {rows:,} customers: "
        f"{', '.join(skipped)}"
        if skipped
        else None
    )
    return kept, note
