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

The estimator that applies these decisions (`FeatureEngineer`) lives in
`tasks/model/segment_model.py`, the one module shipped inside the registered model; this module
keeps the named feature sets, the validated feature frame and its Prefect task.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.errors import ParameterError
from schemas.columns import CUST_ID, NUMERIC_COLUMNS
from schemas.features import EngineeredFeatures
from tasks.model.segment_model import (
    ENGINEERED_COLUMNS,
    FREQUENCY_FEATURES,
    PER_MONTH_SOURCES,
    FeatureEngineer,
    derive,
)

PCA_VARIANCE = 0.90
FLAG_COLUMNS: tuple[str, ...] = ("minimum_payments_missing", "credit_limit_missing")
FEATURE_FRAME_COLUMNS: tuple[str, ...] = (CUST_ID, *ENGINEERED_COLUMNS, "tenure", *FLAG_COLUMNS)


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


def engineer_features(clean: pd.DataFrame) -> pd.DataFrame:
    """The interpretable engineered frame: one row per customer in `clean`'s order, unscaled.

    Validated by `schemas.features.EngineeredFeatures` (no NaN, no inf, shares in [0, 1]).
    Built from arrays into one frame: an imputed frame and a derived frame in between each
    copied every customer's columns (10M customers: 2 GB apiece).
    """
    raw = FeatureEngineer().fit(clean).impute_arrays(clean)
    columns = {
        CUST_ID: clean[CUST_ID].astype(str).to_numpy(),
        **derive(raw),
        "tenure": raw["TENURE"].astype("int64"),
        **{flag: raw[flag] for flag in FLAG_COLUMNS},
    }
    del raw  # what the frame needs is in `columns`; the rest goes before the frame is built
    return EngineeredFeatures.check(pd.DataFrame(columns))


# Not cached: the features of the real file take 0.1 s, while persisting the cached result of
# 10M customers took 57 s and 2 GB more memory on every first run (a rerun on identical bytes
# is the exception, not the rule).
@task(name="engineer-features", cache_policy=NO_CACHE)
def engineer_features_task(clean: pd.DataFrame) -> pd.DataFrame:
    """`engineer_features`, as a step of the segmentation flow."""
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
