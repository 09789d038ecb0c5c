"""The segmentation model as shipped inside every registered MLflow model: rows in, segments out.

MLflow copies this one file with the model (as `tasks/model/segment_model.py`, the module path
its classes are saved under), so it imports numpy, pandas, scikit-learn and the standard library
only: the model loads wherever those and MLflow are installed. The reasoning behind each feature
decision is in `tasks/segmentation/features.py`; the input columns and caps mirror
`schemas/columns.py` and `schemas/features.py` (a test keeps them equal).
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import HDBSCAN, AgglomerativeClustering
from sklearn.metrics import euclidean_distances
from sklearn.neighbors import KDTree

CUST_ID = "CUST_ID"
NUMERIC_COLUMNS: tuple[str, ...] = (
    "BALANCE",
    "BALANCE_FREQUENCY",
    "PURCHASES",
    "ONEOFF_PURCHASES",
    "INSTALLMENTS_PURCHASES",
    "CASH_ADVANCE",
    "PURCHASES_FREQUENCY",
    "ONEOFF_PURCHASES_FREQUENCY",
    "PURCHASES_INSTALLMENTS_FREQUENCY",
    "CASH_ADVANCE_FREQUENCY",
    "CASH_ADVANCE_TRX",
    "PURCHASES_TRX",
    "CREDIT_LIMIT",
    "PAYMENTS",
    "MINIMUM_PAYMENTS",
    "PRC_FULL_PAYMENT",
    "TENURE",
)
COUNT_COLUMNS: tuple[str, ...] = ("CASH_ADVANCE_TRX", "PURCHASES_TRX", "TENURE")
OPTIONAL_COLUMNS: tuple[str, ...] = ("CREDIT_LIMIT", "MINIMUM_PAYMENTS")
OUTPUT_COLUMNS: tuple[str, ...] = (CUST_ID, "segment", "segment_name", "distance")
PROBABILITY = "probability"  # a fifth column, from models that give one (the Gaussian mixture)
NOISE_SEGMENT = -1
UTILISATION_CAP = 1.5
PAYMENTS_TO_MINIMUM_CAP = 50.0
MINIMUM_PAYMENT_BANDS = 10  # balance deciles: enough to follow the trend, each with ~860 customers
# Levels of the reference quantiles: deciles for drift bins, plus the tails where drift shows first.
# `describe` summarises at most this many rows (a seeded sample above; see its docstring).
DESCRIBE_MAX_ROWS = 1_000_000
QUANTILE_LEVELS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)

PER_MONTH_SOURCES: dict[str, str] = {
    "purchases_per_month": "PURCHASES",
    "oneoff_purchases_per_month": "ONEOFF_PURCHASES",
    "installment_purchases_per_month": "INSTALLMENTS_PURCHASES",
    "cash_advance_per_month": "CASH_ADVANCE",
    "payments_per_month": "PAYMENTS",
    "minimum_payments_per_month": "MINIMUM_PAYMENTS",
    "purchases_trx_per_month": "PURCHASES_TRX",
    "cash_advance_trx_per_month": "CASH_ADVANCE_TRX",
}
FREQUENCY_FEATURES: dict[str, str] = {
    "balance_frequency": "BALANCE_FREQUENCY",
    "purchases_frequency": "PURCHASES_FREQUENCY",
    "oneoff_purchases_frequency": "ONEOFF_PURCHASES_FREQUENCY",
    "installment_purchases_frequency": "PURCHASES_INSTALLMENTS_FREQUENCY",
    "cash_advance_frequency": "CASH_ADVANCE_FREQUENCY",
}
RATIO_FEATURES: tuple[str, ...] = (
    "utilisation",
    "payments_to_minimum",
    "oneoff_share",
    "installment_share",
    "cash_advance_share",
    "avg_purchase_ticket",
    "avg_cash_advance_ticket",
)
ENGINEERED_COLUMNS: tuple[str, ...] = (
    "balance",
    "credit_limit",
    *PER_MONTH_SOURCES,
    *FREQUENCY_FEATURES,
    "full_payment_share",
    *RATIO_FEATURES,
)


class UnscorableRowError(ValueError):
    """A row the model cannot score; the message names the row, the customer and the column."""

    def __init__(self, message: str, row: object = None, column: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column


def _numeric_rules(column: str, given: pd.Series, value: np.ndarray) -> list[tuple[object, str]]:
    """(mask, problem) for one numeric column; `{text}` and `{number}` quote the cell."""
    empty = given.isna().to_numpy()
    with np.errstate(invalid="ignore"):
        rules = [
            (~empty & np.isnan(value), "is {text}, not a number"),
            (np.isinf(value), "is {number:g}, not a finite number"),
            (value < 0, "is {number:g}; it cannot be negative"),
        ]
        if column not in OPTIONAL_COLUMNS:
            rules.append((empty, "is empty; only CREDIT_LIMIT and MINIMUM_PAYMENTS may be"))
        if column == "TENURE":
            rules.append((value < 1, "is {number:g}; a tenure is at least 1 month"))
        if column == "CREDIT_LIMIT":
            rules.append((value == 0, "is 0; a credit limit is above 0"))
    return rules


def _as_numbers(column: pd.Series) -> np.ndarray:
    """float64 values, NaN where the cell is not a number; numeric columns need no parsing."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _row_problems(rows: pd.DataFrame, numbers: pd.DataFrame) -> list[tuple[int, int, str]]:
    """(row position, column position, problem) for every cell the features cannot use."""
    ids = rows[CUST_ID]
    # Arrow strings: the strip runs in C++ (a Python call per customer: 20 ms per 250,000).
    # pyarrow comes with mlflow, one of the model's requirements.
    blank = (ids.astype("string[pyarrow]").str.strip() == "").to_numpy(dtype=bool, na_value=True)
    no_id = ids.isna().to_numpy() | blank
    found = [(int(p), -1, "is empty") for p in np.flatnonzero(no_id)]
    for col_pos, column in enumerate(NUMERIC_COLUMNS):
        given, value = rows[column], numbers[column].to_numpy()
        for mask, problem in _numeric_rules(column, given, value):
            found += [
                (int(p), col_pos, problem.format(text=repr(str(given.iloc[p])), number=value[p]))
                for p in np.flatnonzero(mask)
            ]
    return sorted(found)


def check_rows(X: pd.DataFrame) -> pd.DataFrame:
    """CUST_ID as text and the 17 numeric columns as floats; UnscorableRowError otherwise.

    CREDIT_LIMIT and MINIMUM_PAYMENTS may be empty or absent (the features fill them by meaning).
    """
    rows = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
    rows = rows.assign(**{c: np.nan for c in OPTIONAL_COLUMNS if c not in rows.columns})
    missing = [c for c in (CUST_ID, *NUMERIC_COLUMNS) if c not in rows.columns]
    if missing:
        raise UnscorableRowError(f"the input has no column(s) {', '.join(missing)}")
    numbers = pd.DataFrame({c: _as_numbers(rows[c]) for c in NUMERIC_COLUMNS}, index=rows.index)
    problems = _row_problems(rows, numbers)
    if problems:
        position, col_pos, problem = problems[0]
        column = CUST_ID if col_pos < 0 else NUMERIC_COLUMNS[col_pos]
        label = rows.index[position]
        more = f" ({len(problems) - 1} more problem(s) in this batch)" if len(problems) > 1 else ""
        raise UnscorableRowError(
            f"cannot score row {label} (CUST_ID {rows[CUST_ID].iloc[position]!r}): "
            f"{column} {problem}{more}",
            row=label,
            column=column,
        )
    numbers.insert(0, CUST_ID, rows[CUST_ID].astype(str).to_numpy())
    return numbers


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (a share of nothing is none)."""
    positive = denominator > 0
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=positive)


def _minimum_payment_bands(clean: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Inner balance-decile edges and the median recorded minimum payment in each band."""
    recorded = clean.loc[clean["MINIMUM_PAYMENTS"].notna(), ["BALANCE", "MINIMUM_PAYMENTS"]]
    if recorded.empty:
        return np.array([]), np.array([0.0])
    quantiles = np.linspace(0, 1, MINIMUM_PAYMENT_BANDS + 1)[1:-1]
    edges = np.unique(np.quantile(recorded["BALANCE"], quantiles))
    bands = np.searchsorted(edges, recorded["BALANCE"].to_numpy(), side="right")
    medians = recorded["MINIMUM_PAYMENTS"].groupby(bands).median()
    overall = float(recorded["MINIMUM_PAYMENTS"].median())
    return edges, medians.reindex(range(len(edges) + 1), fill_value=overall).to_numpy(float)


def _check_columns(frame: pd.DataFrame) -> None:
    missing = sorted(set(NUMERIC_COLUMNS) - set(frame.columns))
    if missing:
        raise ValueError(f"features need the clean-frame columns; missing: {', '.join(missing)}")


class FeatureEngineer(BaseEstimator, TransformerMixin):
    """Clean frame -> chosen feature columns; `fit` learns how to fill the two nullable columns.

    `columns` may name raw columns (imputed) or engineered ones; `log_columns` go through log1p.
    With `columns=None` it returns every engineered column. CUST_ID is ignored.
    """

    def __init__(
        self, columns: tuple[str, ...] | None = None, log_columns: tuple[str, ...] = ()
    ) -> None:
        self.columns = columns
        self.log_columns = log_columns

    def fit(self, X: pd.DataFrame, y: object = None) -> FeatureEngineer:
        _check_columns(X)
        unknown = sorted(set(self.columns or ()) - set(ENGINEERED_COLUMNS) - set(NUMERIC_COLUMNS))
        unknown += sorted(set(self.log_columns) - set(self.columns or ENGINEERED_COLUMNS))
        if unknown:
            raise ValueError(f"unknown feature column(s): {', '.join(unknown)}")
        self.minimum_payment_edges_, self.minimum_payment_medians_ = _minimum_payment_bands(X)
        limits = X["CREDIT_LIMIT"].dropna()
        self.credit_limit_median_ = float(limits.median()) if len(limits) else 1.0
        self.n_features_in_ = X.shape[1]
        return self

    def impute(self, X: pd.DataFrame) -> pd.DataFrame:
        """The numeric clean columns with both nullable ones filled, plus the two missing flags."""
        return pd.DataFrame(self.impute_arrays(X))

    def impute_arrays(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """`impute` as plain arrays, by column name."""
        # Plain arrays: this runs on every stability refit, where pandas overhead dominated.
        _check_columns(X)
        raw = {c: X[c].to_numpy(dtype="float64", copy=True) for c in NUMERIC_COLUMNS}
        minimum, balance = raw["MINIMUM_PAYMENTS"], raw["BALANCE"]
        minimum_missing = np.isnan(minimum)
        bands = np.searchsorted(self.minimum_payment_edges_, balance, side="right")
        fill = np.where(raw["PAYMENTS"] > 0, self.minimum_payment_medians_[bands], 0.0)
        raw["MINIMUM_PAYMENTS"] = np.where(minimum_missing, fill, minimum)
        limit_missing = np.isnan(raw["CREDIT_LIMIT"])
        limit_fill = np.maximum(balance, self.credit_limit_median_)
        raw["CREDIT_LIMIT"] = np.where(limit_missing, limit_fill, raw["CREDIT_LIMIT"])
        raw["minimum_payments_missing"] = minimum_missing.astype("int64")
        raw["credit_limit_missing"] = limit_missing.astype("int64")
        return raw

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        raw = self.impute_arrays(X)
        available = {**raw, **derive(raw)}
        columns = list(self.columns or ENGINEERED_COLUMNS)
        selected = {c: available[c].astype("float64") for c in columns}
        for column in self.log_columns:
            selected[column] = np.log1p(selected[column])
        return pd.DataFrame(selected, columns=columns)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.columns or ENGINEERED_COLUMNS, dtype=object)


def derive(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Engineered columns from imputed raw columns (each choice: tasks/segmentation/features)."""
    out: dict[str, np.ndarray] = {"balance": raw["BALANCE"], "credit_limit": raw["CREDIT_LIMIT"]}
    for name, source in PER_MONTH_SOURCES.items():
        out[name] = raw[source] / raw["TENURE"]
    for name, source in FREQUENCY_FEATURES.items():
        out[name] = np.clip(raw[source], 0.0, 1.0)
    out["full_payment_share"] = np.clip(raw["PRC_FULL_PAYMENT"], 0.0, 1.0)
    out["utilisation"] = np.clip(raw["BALANCE"] / raw["CREDIT_LIMIT"], 0.0, UTILISATION_CAP)
    payments, minimum = raw["PAYMENTS"], raw["MINIMUM_PAYMENTS"]
    to_minimum = _ratio(payments, minimum)
    to_minimum[(minimum <= 0) & (payments > 0)] = PAYMENTS_TO_MINIMUM_CAP
    out["payments_to_minimum"] = np.clip(to_minimum, 0.0, PAYMENTS_TO_MINIMUM_CAP)
    oneoff, installments = raw["ONEOFF_PURCHASES"], raw["INSTALLMENTS_PURCHASES"]
    out["oneoff_share"] = _ratio(oneoff, oneoff + installments)
    out["installment_share"] = _ratio(installments, oneoff + installments)
    purchases, cash = raw["PURCHASES"], raw["CASH_ADVANCE"]
    out["cash_advance_share"] = _ratio(cash, purchases + cash)
    out["avg_purchase_ticket"] = purchases / np.maximum(raw["PURCHASES_TRX"], 1.0)
    out["avg_cash_advance_ticket"] = cash / np.maximum(raw["CASH_ADVANCE_TRX"], 1.0)
    return out


class _NearestTrainingRow(ClusterMixin, BaseEstimator):
    """Shared predict/transform for clusterers that only label the rows they were fitted on.

    A new row takes the label of its nearest training row, which reproduces the fitted labels
    exactly on the training rows; HDBSCAN's noise stays -1.
    """

    def _remember(self, X: np.ndarray, labels: np.ndarray) -> None:
        X = np.asarray(X, dtype=float)
        self.labels_ = np.asarray(labels, dtype=np.int64)
        self.train_ = X
        segments = np.unique(self.labels_[self.labels_ >= 0])
        centres = [X[self.labels_ == s].mean(axis=0) for s in segments]
        self.cluster_centers_ = np.vstack(centres) if centres else np.empty((0, X.shape[1]))
        self.n_features_in_ = X.shape[1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The label of each row's nearest training row (-1 for HDBSCAN noise)."""
        # An exact KD-tree, rebuilt per call (milliseconds) so the saved model holds only arrays.
        tree = KDTree(self.train_)
        nearest = tree.query(np.asarray(X, dtype=float), k=1, return_distance=False)
        return self.labels_[nearest[:, 0]]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Euclidean distance to each segment's centre (mean of its training rows)."""
        return euclidean_distances(np.asarray(X, dtype=float), self.cluster_centers_)


class WardClusterer(_NearestTrainingRow):
    """Agglomerative clustering with Ward linkage (minimum within-segment variance)."""

    def __init__(self, n_clusters: int = 2) -> None:
        self.n_clusters = n_clusters

    def fit(self, X: np.ndarray, y: object = None) -> WardClusterer:
        labels = AgglomerativeClustering(n_clusters=self.n_clusters, linkage="ward").fit_predict(X)
        self._remember(X, labels)
        return self


class HDBSCANClusterer(_NearestTrainingRow):
    """HDBSCAN: finds its own number of dense segments and leaves the rest as noise (-1)."""

    def __init__(self, min_cluster_size: int = 100, min_samples: int | None = None) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples

    def fit(self, X: np.ndarray, y: object = None) -> HDBSCANClusterer:
        rows = len(X)
        if self.min_cluster_size > rows:  # no segment can be that large: all noise, not an error
            self._remember(X, np.full(rows, -1))
            return self
        min_samples = None if self.min_samples is None else min(self.min_samples, rows)
        model = HDBSCAN(min_cluster_size=self.min_cluster_size, min_samples=min_samples, copy=True)
        self._remember(X, model.fit_predict(X))
        return self


def _summary(values: np.ndarray) -> dict[str, object]:
    present = values[~np.isnan(values)]
    if not len(present):
        return {"missing_share": 1.0, "mean": None, "std": None, "quantiles": None}
    return {
        "missing_share": float(1 - len(present) / len(values)),
        "mean": float(present.mean()),
        "std": float(present.std()),
        "quantiles": [float(q) for q in np.quantile(present, QUANTILE_LEVELS)],
    }


class SegmentModel(BaseEstimator):
    """A fitted `Pipeline(features -> clustering)` with its segment names and its card.

    `predict` takes CC GENERAL rows (as `pandas.read_csv` gives them, or JSON records) and
    returns OUTPUT_COLUMNS: CUST_ID, segment id, segment name, distance to the segment's centre
    in the model's space (the nearest centre for noise), plus the membership probability when
    the model gives one (never a column of NaN: JSON has no NaN). `card_json` holds the names,
    the segment profile and
    the reference statistics of the training data (kept as text: skops would store a nested dict
    of floats at twenty times the size).
    """

    def __init__(self, pipeline=None, segment_names=None, card_json: str = "{}") -> None:
        self.pipeline = pipeline
        self.segment_names = segment_names
        self.card_json = card_json

    @property
    def card(self) -> dict:
        """The segment card: names, profile and `reference` statistics (see `describe`)."""
        return json.loads(self.card_json)

    def features(self, X: pd.DataFrame) -> pd.DataFrame:
        """The model's input features of each row, engineered but before log1p and scaling."""
        engineer = copy.copy(self.pipeline[0][0])
        engineer.log_columns = ()
        return engineer.transform(check_rows(X))

    def embed(self, X: pd.DataFrame) -> np.ndarray:
        """Each row in the space the clustering sees (scaled, and PCA where the model has one)."""
        return np.asarray(self.pipeline[:-1].transform(check_rows(X)), dtype=float)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        rows = check_rows(X)
        scored = {"segment": np.empty(0, dtype=np.int64), "distance": np.empty(0)}
        if hasattr(self.pipeline[-1], "predict_proba"):
            scored[PROBABILITY] = np.empty(0)
        if len(rows):  # scikit-learn refuses an empty batch; an empty answer is the right one
            scored = self._score(rows)
        names = self.segment_names or {}
        labels = scored.pop("segment")
        # A name per segment, then taken per row (a Python call per customer: 3 s at 10M).
        segments, positions = np.unique(labels, return_inverse=True)
        by_segment = np.asarray([names.get(int(s), f"Segment {s}") for s in segments], object)
        answer = {
            CUST_ID: rows[CUST_ID].to_numpy(dtype=object),
            "segment": labels,
            "segment_name": by_segment[positions.reshape(-1)],
        }
        return pd.DataFrame(answer | scored, index=rows.index)

    def _score(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        space = np.asarray(self.pipeline[:-1].transform(rows), dtype=float)
        model = self.pipeline[-1]
        labels = np.asarray(model.predict(space), dtype=np.int64)
        centres = getattr(model, "cluster_centers_", getattr(model, "means_", None))
        distance = np.full(len(labels), math.nan)
        if centres is not None and len(centres):
            to_centres = euclidean_distances(space, np.asarray(centres, dtype=float))
            assigned = labels >= 0
            distance[assigned] = to_centres[assigned, labels[assigned]]
            distance[~assigned] = to_centres[~assigned].min(axis=1)
        scored = {"segment": labels, "distance": distance}
        if hasattr(model, "predict_proba"):
            posterior = model.predict_proba(space)
            scored[PROBABILITY] = posterior[np.arange(len(labels)), labels]
        return scored

    def describe(self, X: pd.DataFrame, max_rows: int | None = None) -> dict[str, object]:
        """Statistics of a batch, comparable with `card["reference"]` (made by this on training).

        Per input column and per model feature: missing share, mean, std and the quantiles at
        QUANTILE_LEVELS; the share of rows in each segment; the distances' quantiles and 99th
        percentile. A drift check computes these on new data and compares. Above `max_rows`
        (default DESCRIBE_MAX_ROWS) rows, of a fixed seeded sample of that many: quantiles of a
        million rows are exact to a fraction of a percentile, and describing 10M rows held three
        more copies of them (features, scores) in memory.
        """
        limit = DESCRIBE_MAX_ROWS if max_rows is None else max_rows
        if len(X) > limit:
            X = X.iloc[np.sort(np.random.default_rng(0).choice(len(X), limit, replace=False))]
        rows = check_rows(X)
        scored = self.predict(rows)
        features = self.features(rows)
        shares = scored["segment"].value_counts(normalize=True).sort_index()
        distance = _summary(scored["distance"].to_numpy(dtype=float))
        return {
            "rows": len(rows),
            "quantile_levels": list(QUANTILE_LEVELS),
            "inputs": {c: _summary(rows[c].to_numpy(dtype=float)) for c in NUMERIC_COLUMNS},
            "features": {c: _summary(features[c].to_numpy(dtype=float)) for c in features},
            "segment_shares": {str(int(s)): float(v) for s, v in shares.items()},
            "distance": distance,
            "distance_p99": (distance["quantiles"] or [None] * len(QUANTILE_LEVELS))[-2],
        }
