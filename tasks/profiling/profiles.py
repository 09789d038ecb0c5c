"""Segment profiles: sizes, medians, means, z-scores vs the population, what sets each apart."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from schemas.columns import CUST_ID, NUMERIC_COLUMNS
from tasks.profiling.traits import behaviour_traits, statistics

TOP_DISTINGUISHING = 5
SKEW_FOR_LOG = 2.0


@dataclass(frozen=True)
class DistinguishingFeature:
    """An engineered feature on which a segment's mean is far from the population mean.

    The values are the feature's one statistic (`SegmentProfiles.feature_statistic`).
    """

    feature: str
    zscore: float
    segment_value: float
    population_value: float
    statistic: str


@dataclass(frozen=True)
class SegmentProfiles:
    """Per-segment statistics; every frame is indexed by segment id (sorted, -1 = noise)."""

    sizes: pd.DataFrame  # columns n, share
    raw_medians: pd.DataFrame
    raw_means: pd.DataFrame
    feature_medians: pd.DataFrame
    feature_means: pd.DataFrame
    trait_medians: pd.DataFrame
    raw_zscores: pd.DataFrame
    feature_zscores: pd.DataFrame
    population_raw_medians: pd.Series
    population_feature_medians: pd.Series
    population_trait_medians: pd.Series
    totals: pd.DataFrame  # per-segment share of the portfolio's balances, purchases, cash advance
    distinguishing: dict[int, list[DistinguishingFeature]]
    log_scaled_features: tuple[str, ...]  # engineered columns z-scored on the log1p scale
    # The one number shown per engineered column: its median, or its mean when zero-heavy.
    feature_statistic: dict[str, str]
    feature_values: pd.DataFrame
    population_feature_values: pd.Series
    feature_nonzero: pd.DataFrame  # share of the segment above 0
    population_feature_nonzero: pd.Series

    @property
    def segments(self) -> list[int]:
        return [int(s) for s in self.sizes.index]

    @property
    def n_customers(self) -> int:
        return int(self.sizes["n"].sum())


def numeric_feature_columns(features: pd.DataFrame) -> list[str]:
    """The engineered columns a profile or a tree can use: numeric, not the customer id."""
    return [
        c for c in features.columns if c != CUST_ID and pd.api.types.is_numeric_dtype(features[c])
    ]


def _check_aligned(clean: pd.DataFrame, features: pd.DataFrame, labels: pd.Series) -> None:
    if not len(clean) == len(features) == len(labels):
        raise ValueError(
            f"clean ({len(clean)} rows), features ({len(features)}) and labels ({len(labels)})"
            " must describe the same customers in the same order"
        )
    if len(labels) == 0:
        raise ValueError("cannot profile segments of an empty frame")
    if CUST_ID in features.columns and not np.array_equal(
        features[CUST_ID].astype(str).to_numpy(), clean[CUST_ID].astype(str).to_numpy()
    ):
        raise ValueError("features.CUST_ID does not follow clean.CUST_ID row for row")


def _more_than_two_values(column: pd.Series) -> bool:
    # The first rows settle it for any continuous column; hashing 10M values took 4 s a column.
    return len(pd.unique(column.to_numpy()[:10_000])) > 2 or column.nunique() > 2


def skewed_columns(frame: pd.DataFrame) -> list[str]:
    """Non-negative, non-binary columns with a long right tail: z-scored on the log1p scale."""
    skew = frame.skew()
    return [
        c
        for c in frame.columns
        if skew[c] > SKEW_FOR_LOG and frame[c].min() >= 0 and _more_than_two_values(frame[c])
    ]


def _zscores(frame: pd.DataFrame, grouping: np.ndarray) -> pd.DataFrame:
    """(segment mean - population mean) / population std; 0 where a column is constant.

    Heavily skewed amounts are log1p-ed first: on the raw scale a few extreme customers set the
    mean and the std, and a segment whose typical member differs sharply would score near 0.
    Column by column, missing values left out, with no copy of the frame (10M customers: each
    copy was 2 GB).
    """
    logged = set(skewed_columns(frame))
    codes, segments = pd.factorize(np.asarray(grouping), sort=True)
    z = {}
    for column in frame.columns:
        values = frame[column].to_numpy(dtype="float64")
        if column in logged:
            values = np.log1p(values)
        present = ~np.isnan(values)
        kept, where = values[present], codes[present]
        counts = np.bincount(where, minlength=len(segments)).astype("float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.bincount(where, weights=kept, minlength=len(segments)) / counts
            std = kept.std() if len(kept) else np.nan
            z[column] = (means - kept.mean()) / std if len(kept) and std > 0 else np.nan
    return pd.DataFrame(z, index=pd.Index(segments)).fillna(0.0)


def segment_sizes(grouping: np.ndarray) -> pd.DataFrame:
    """Customers per segment (`n`) and their share, indexed by segment id (sorted)."""
    counts = pd.Series(np.asarray(grouping)).value_counts().sort_index()
    return pd.DataFrame({"n": counts.astype("int64"), "share": counts / counts.sum()})


def portfolio_shares(clean: pd.DataFrame, grouping: np.ndarray) -> pd.DataFrame:
    """Each segment's share of the portfolio's balances, purchases, cash, limits, payments."""
    columns = ["BALANCE", "PURCHASES", "CASH_ADVANCE", "CREDIT_LIMIT", "PAYMENTS"]
    sums = clean[columns].groupby(grouping).sum()
    totals = clean[columns].sum().replace(0.0, np.nan)
    return (sums / totals).fillna(0.0).rename(columns=lambda c: f"share_of_{c.lower()}")


def _summary(frame: pd.DataFrame, grouping: np.ndarray, statistic: dict[str, str]):
    """(segment x column, population) values, each column by its own statistic."""
    medians, means = frame.groupby(grouping).median(), frame.groupby(grouping).mean()
    per_segment = pd.DataFrame(
        {c: means[c] if statistic[c] == "mean" else medians[c] for c in frame.columns}
    )
    population = pd.Series(
        {c: frame[c].mean() if statistic[c] == "mean" else frame[c].median() for c in frame},
        dtype="float64",
    )
    return per_segment, population


def _distinguishing(
    zscores: pd.DataFrame, values: pd.DataFrame, population: pd.Series, statistic: dict[str, str]
) -> dict[int, list[DistinguishingFeature]]:
    result: dict[int, list[DistinguishingFeature]] = {}
    for seg, row in zscores.iterrows():
        # Ties broken by name so the order never depends on column order of the input.
        ranked = sorted(row.items(), key=lambda kv: (-round(abs(kv[1]), 9), kv[0]))
        result[int(seg)] = [
            DistinguishingFeature(
                feature=col,
                zscore=float(z),
                segment_value=float(values.at[seg, col]),
                population_value=float(population[col]),
                statistic=statistic[col],
            )
            for col, z in ranked[:TOP_DISTINGUISHING]
        ]
    return result


def positional(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` indexed 0..n-1 (labels are positional), copied only when it is not already."""
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def profile_segments(
    clean: pd.DataFrame, features: pd.DataFrame, labels: pd.Series
) -> SegmentProfiles:
    """Profile every segment of `labels` on raw columns, engineered features and traits."""
    _check_aligned(clean, features, labels)
    grouping = np.asarray(labels, dtype=np.int64)
    # One float copy of each table, no more (10M customers: each copy of `engineered` is 2 GB).
    raw = positional(clean[list(NUMERIC_COLUMNS)].astype("float64", copy=False))
    engineered = positional(
        features[numeric_feature_columns(features)].astype("float64", copy=False)
    )
    traits = behaviour_traits(positional(clean))
    sizes = segment_sizes(grouping)
    feature_medians = engineered.groupby(grouping).median()
    population_medians = engineered.median()
    feature_zscores = _zscores(engineered, grouping)
    statistic = statistics(engineered)
    values, population_values = _summary(engineered, grouping, statistic)
    nonzero = engineered > 0
    return SegmentProfiles(
        sizes=sizes,
        raw_medians=raw.groupby(grouping).median(),
        raw_means=raw.groupby(grouping).mean(),
        feature_medians=feature_medians,
        feature_means=engineered.groupby(grouping).mean(),
        trait_medians=traits.groupby(grouping).median(),
        raw_zscores=_zscores(raw, grouping),
        feature_zscores=feature_zscores,
        population_raw_medians=raw.median(),
        population_feature_medians=population_medians,
        population_trait_medians=traits.median(),
        totals=portfolio_shares(raw, grouping),
        distinguishing=_distinguishing(feature_zscores, values, population_values, statistic),
        log_scaled_features=tuple(skewed_columns(engineered)),
        feature_statistic=statistic,
        feature_values=values,
        population_feature_values=population_values,
        feature_nonzero=nonzero.groupby(grouping).mean(),
        population_feature_nonzero=nonzero.mean(),
    )


@dataclass(frozen=True)
class Migration:
    """How customers moved between segment names from the previous champion to this run."""

    crosstab: pd.DataFrame  # previous name (rows) x current name (columns), counts
    matched: int
    stayed: int
    only_previous: int
    only_current: int

    @property
    def stayed_share(self) -> float:
        return self.stayed / self.matched if self.matched else float("nan")


def segment_migration(previous: pd.Series, current: pd.Series) -> Migration:
    """Cross-tabulate segment names of customers present in both runs, matched on CUST_ID.

    Both series map CUST_ID (index) to a segment name.
    """
    for label, series in (("previous", previous), ("current", current)):
        if not series.index.is_unique:
            raise ValueError(f"{label} segment names repeat a CUST_ID; one name per customer")
    previous = previous.copy()
    current = current.copy()
    previous.index = previous.index.astype(str)
    current.index = current.index.astype(str)
    common = previous.index.intersection(current.index)
    before = previous.loc[common].astype(str).rename("previous segment")
    after = current.loc[common].astype(str).rename("current segment")
    crosstab = pd.crosstab(before, after) if len(common) else pd.DataFrame(dtype="int64")
    return Migration(
        crosstab=crosstab,
        matched=len(common),
        stayed=int((before == after).sum()),
        only_previous=len(previous.index.difference(current.index)),
        only_current=len(current.index.difference(previous.index)),
    )
