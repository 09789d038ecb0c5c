"""Segmentation features: nulls treated by meaning, per-month totals, analyst ratios, named sets.

Every decision below was read off the real file (`../shared/data/cc_general.csv`, 8,950 rows):

- MINIMUM_PAYMENTS empty (313 rows). All 240 customers with PAYMENTS == 0 have it empty and no
  customer with PAYMENTS == 0 has it recorded: nothing was paid, so no minimum was recorded. Those
  rows get 0 by meaning. The other 73 paid something yet have no minimum; their balances are tiny
  (median 0, max 133) and none ever paid in full, so they sit in the lowest balance band. Recorded
  minimums rise steadily with the balance (median 93 in the lowest balance decile, 1,970 in the
  highest; log correlation 0.82, against 0.36 with PAYMENTS), so the fill is the median recorded
  minimum of the customer's balance decile, learned in `fit`. A `minimum_payments_missing` flag
  keeps the fact for profiling; it is not a model input (a 0/1 column would dominate distances).
- CREDIT_LIMIT empty (1 row, a 6-month cash-advance user with a balance of 18). Filled with
  max(balance, learned median limit), so the filled limit is plausible and never below the balance.
- TENURE normalisation. Flow totals grow with tenure (median PAYMENTS 262 at 6 months, 959 at 12;
  PURCHASES 175 vs 403), so PURCHASES, its split, CASH_ADVANCE, PAYMENTS, MINIMUM_PAYMENTS and both
  transaction counts are divided by TENURE. BALANCE and CREDIT_LIMIT are stocks (BALANCE shows no
  trend with tenure: medians 346..1,108 in no order) and stay as they are.
- Frequencies are shares of months; 8 rows have CASH_ADVANCE_FREQUENCY 1.09..1.5 (a counting quirk
  of the source), so every frequency is capped at 1.
- Utilisation = BALANCE / CREDIT_LIMIT, capped at 1.5: 227 customers are over their limit (a real
  signal, kept), but the tail runs to 15.9 while the 99.9th percentile is 1.33.
- Payments to minimum = PAYMENTS / MINIMUM_PAYMENTS, capped at 50 (the 99th percentile, 50.4):
  recorded minimums go down to 0.02, which makes the raw ratio run to 6,840 without meaning more
  than "pays far above the minimum". Nothing paid -> 0; a positive payment against a zero minimum
  -> the cap.
- Shares with a zero denominator are 0, not undefined: a customer with no purchases has 0 one-off
  and 0 installment share (the pair (0, 0) marks non-purchasers; for purchasers they sum to 1);
  no purchases and no cash advance -> 0 cash-advance reliance. The purchase split uses
  ONEOFF + INSTALLMENTS rather than PURCHASES because 19 rows disagree with their own split.
- Ticket sizes divide by max(count, 1): 3 rows have purchases but no transaction counted, read as
  one transaction rather than dropped.
- Skew: every amount is heavily right-skewed (skewness 2.4 for BALANCE to 13.6 for
  MINIMUM_PAYMENTS), so amounts, per-month counts, tickets and payments-to-minimum enter the
  models as log1p (zeros stay 0; half the customers have no cash advance).
  After log1p the median |skewness| of the model inputs is 0.6 (log_scaled) and 0.58
  (behavioural), against 2.9 for the raw columns.
- Scaling: StandardScaler. After log1p the tails are tamed, and the interquartile range that
  RobustScaler divides by is a poor yardstick here: it runs from 0.43 to 2.1 times the standard
  deviation across features, because of zero-inflated or saturated columns (PRC_FULL_PAYMENT: 66 %
  zeros, IQR 0.14 vs sd 0.29; BALANCE_FREQUENCY: 1 for most customers). RobustScaler would give
  those two about four times the weight of the purchase shares for no behavioural reason.
- PCA (behavioural_pca): keep 90 % of the variance, which is 7 components of the 12 behavioural
  features on the real data (the first 4 hold 78 %); a share rather than a fixed count adapts
  when the data changes, and the 10 % dropped is mostly the overlap of shares and frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from prefect import task
from prefect.context import TaskRunContext
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.errors import ParameterError
from schemas.columns import CUST_ID, NUMERIC_COLUMNS
from schemas.features import (
    PAYMENTS_TO_MINIMUM_CAP,
    UTILISATION_CAP,
    EngineeredFeatures,
)

MINIMUM_PAYMENT_BANDS = 10  # balance deciles: enough to follow the trend, each with ~860 customers
PCA_VARIANCE = 0.90

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
# The interpretable, unscaled columns (the model inputs are drawn from these and the raw columns).
ENGINEERED_COLUMNS: tuple[str, ...] = (
    "balance",
    "credit_limit",
    *PER_MONTH_SOURCES,
    *FREQUENCY_FEATURES,
    "full_payment_share",
    *RATIO_FEATURES,
)
FLAG_COLUMNS: tuple[str, ...] = ("minimum_payments_missing", "credit_limit_missing")
FEATURE_FRAME_COLUMNS: tuple[str, ...] = (CUST_ID, *ENGINEERED_COLUMNS, "tenure", *FLAG_COLUMNS)
_REQUIRED_INPUT = set(NUMERIC_COLUMNS)


@dataclass(frozen=True)
class FeatureSetSpec:
    """A named model input: which columns, which of them through log1p, optional PCA, and why."""

    name: str
    columns: tuple[str, ...]
    log_columns: tuple[str, ...]
    why: str
    pca_variance: float | None = None


_SIZE_COLUMNS = ("balance", "credit_limit", *PER_MONTH_SOURCES)
_BEHAVIOUR_COLUMNS: tuple[str, ...] = (
    "utilisation",
    "payments_to_minimum",
    "full_payment_share",
    "oneoff_share",
    "installment_share",
    "cash_advance_share",
    "avg_purchase_ticket",
    "avg_cash_advance_ticket",
    "purchases_trx_per_month",
    "balance_frequency",
    "purchases_frequency",
    "cash_advance_frequency",
)
_BEHAVIOUR_LOGGED = (
    "payments_to_minimum",
    "avg_purchase_ticket",
    "avg_cash_advance_ticket",
    "purchases_trx_per_month",
)

FEATURE_SETS: dict[str, FeatureSetSpec] = {
    spec.name: spec
    for spec in (
        FeatureSetSpec(
            "raw_scaled",
            NUMERIC_COLUMNS,
            (),
            "Baseline: the raw columns, imputed and standardised, to show what engineering buys.",
        ),
        FeatureSetSpec(
            "log_scaled",
            (*_SIZE_COLUMNS, *FREQUENCY_FEATURES, "full_payment_share"),
            _SIZE_COLUMNS,
            "How much and how often: per-month amounts with the skew tamed by log1p, plus shares.",
        ),
        FeatureSetSpec(
            "behavioural",
            _BEHAVIOUR_COLUMNS,
            _BEHAVIOUR_LOGGED,
            "How the card is used, independent of wallet size: the ratios a risk analyst reads.",
        ),
        FeatureSetSpec(
            "behavioural_pca",
            _BEHAVIOUR_COLUMNS,
            _BEHAVIOUR_LOGGED,
            "The ratios decorrelated by PCA (90 % of variance): shares and frequencies overlap.",
            pca_variance=PCA_VARIANCE,
        ),
    )
}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (see the module docstring)."""
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
    missing = sorted(_REQUIRED_INPUT - set(frame.columns))
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
        unknown = sorted(set(self.columns or ()) - set(ENGINEERED_COLUMNS) - _REQUIRED_INPUT)
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
        return pd.DataFrame(self._impute_arrays(X))

    def _impute_arrays(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
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
        raw = self._impute_arrays(X)
        available = {**raw, **_derive(raw)}
        columns = list(self.columns or ENGINEERED_COLUMNS)
        selected = {c: available[c].astype("float64") for c in columns}
        for column in self.log_columns:
            selected[column] = np.log1p(selected[column])
        return pd.DataFrame(selected, columns=columns)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.columns or ENGINEERED_COLUMNS, dtype=object)


def derive_features(imputed: pd.DataFrame) -> pd.DataFrame:
    """Engineered columns from imputed raw columns (see the module docstring for each choice)."""
    raw = {c: imputed[c].to_numpy(dtype="float64") for c in NUMERIC_COLUMNS}
    return pd.DataFrame(_derive(raw), index=imputed.index)


def _derive(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
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


def engineer_features(clean: pd.DataFrame) -> pd.DataFrame:
    """The interpretable engineered frame: one row per customer in `clean`'s order, unscaled.

    Validated by `schemas.features.EngineeredFeatures` (no NaN, no inf, shares in [0, 1]).
    """
    engineer = FeatureEngineer().fit(clean)
    imputed = engineer.impute(clean)
    frame = derive_features(imputed)
    frame.insert(0, CUST_ID, clean[CUST_ID].astype(str).to_numpy())
    frame["tenure"] = imputed["TENURE"].astype("int64")
    for flag in FLAG_COLUMNS:
        frame[flag] = imputed[flag]
    return EngineeredFeatures.check(frame)


def _features_cache_key(context: TaskRunContext, parameters: dict[str, object]) -> str:
    """Same data and same code -> same features; the frame itself is not hashed (it is large)."""
    return f"engineer-features-{parameters['data_sha256']}-{parameters['code_hash']}"


@task(name="engineer-features", cache_key_fn=_features_cache_key, persist_result=True)
def engineer_features_task(clean: pd.DataFrame, data_sha256: str, code_hash: str) -> pd.DataFrame:
    """`engineer_features`, cached on the data's sha256 and a hash of the pipeline's code."""
    return engineer_features(clean)


def get_feature_set(name: str) -> FeatureSetSpec:
    """The spec named `name`; an unknown name is a ParameterError that lists the known ones."""
    if name not in FEATURE_SETS:
        raise ParameterError(
            f"unknown feature set {name!r}; allowed: {', '.join(sorted(FEATURE_SETS))}"
        )
    return FEATURE_SETS[name]


def make_feature_pipeline(feature_set: str) -> Pipeline:
    """Unfitted clean frame -> model space: features, log1p, StandardScaler, optional PCA."""
    spec = get_feature_set(feature_set)
    steps: list[tuple[str, object]] = [
        ("engineer", FeatureEngineer(spec.columns, spec.log_columns)),
        ("scale", StandardScaler()),
    ]
    if spec.pca_variance is not None:
        # svd_solver="full": the only solver that takes a variance share and is deterministic.
        steps.append(("pca", PCA(n_components=spec.pca_variance, svd_solver="full")))
    return Pipeline(steps)
