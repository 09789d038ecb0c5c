"""What clustering adds: a simple business rule side by side with the segments, and the repayment
axis the segments leave out.

The rule is what an analyst writes without any model: four groups on two shares, with round
thresholds fixed here (not fitted to the run). If the segments barely beat it, the report says so.
The repayment axis (customers who pay in full most months vs revolvers) is a documented
sub-segmentation of every segment, because interest income and risk live on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from tasks.profiling.profiles import positional
from tasks.segmentation.metrics import separation_metrics
from tasks.segmentation.reference import reference_silhouette

CASH_LED_SHARE = 0.3  # cash advances are at least 30 % of the money drawn on the card
INSTALMENT_LED_SHARE = 0.5  # at least half of purchases in instalments
FULL_PAYER_SHARE = 0.5  # paid in full in at least half of the months: a transactor
RULE_GROUPS: tuple[str, ...] = (
    "No purchases",
    "Purchasers who draw cash",
    "Instalment-led purchasers",
    "One-off-led purchasers",
)
RULE_TEXT: tuple[str, ...] = (
    "purchases_per_month = 0 → No purchases",
    f"else cash_advance_share ≥ {CASH_LED_SHARE} → Purchasers who draw cash",
    f"else installment_share ≥ {INSTALMENT_LED_SHARE} → Instalment-led purchasers",
    "else → One-off-led purchasers",
)
REPAYMENT_GROUPS = ("Revolver", "Transactor")
# Business quantities whose variance the segments should explain (on the log1p scale: skewed).
KEY_QUANTITIES: dict[str, str] = {
    "purchases_per_month": "spend per month",
    "balance": "balance",
    "credit_limit": "credit limit",
    "cash_advance_per_month": "cash advance per month",
    "payments_per_month": "payments per month",
}


@dataclass(frozen=True)
class Baseline:
    """The rule's groups and how the segments compare with them."""

    rule_labels: np.ndarray
    agreement_ari: float
    # The rule's groups scored exactly as the grid scores a cell (same spaces, same samples).
    rule_reference_silhouette: float
    rule_model_silhouette: float
    crosstab: pd.DataFrame  # segment id (rows) x rule group name (columns), customers
    variance_explained: pd.DataFrame  # quantity x {segments, rule, segments x repayment}
    repayment: pd.Series  # per customer: "Transactor" / "Revolver"


def rule_groups(features: pd.DataFrame) -> np.ndarray:
    """The rule's group (index into RULE_GROUPS) for every customer, from engineered features."""
    groups = np.full(len(features), 3, dtype=np.int64)
    groups[features["installment_share"].to_numpy() >= INSTALMENT_LED_SHARE] = 2
    groups[features["cash_advance_share"].to_numpy() >= CASH_LED_SHARE] = 1
    groups[features["purchases_per_month"].to_numpy() <= 0] = 0
    return groups


def repayment_groups(features: pd.DataFrame) -> pd.Series:
    """Transactor (pays in full at least FULL_PAYER_SHARE of months) or revolver, per customer."""
    full = features["full_payment_share"].to_numpy() >= FULL_PAYER_SHARE
    # Categorical: two strings shared by every row (a string object per customer: 0.7 GB at 10M).
    groups = pd.Categorical.from_codes(full.astype(np.int8), categories=list(REPAYMENT_GROUPS))
    return pd.Series(groups, name="repayment")


def segment_and_repayment(labels: np.ndarray, repayment: pd.Series) -> np.ndarray:
    """ "<segment>|<repayment group>" per customer, one string object per pair that occurs."""
    segments, segment_codes = np.unique(np.asarray(labels, dtype=np.int64), return_inverse=True)
    groups = pd.Categorical(repayment)
    pairs = segment_codes.reshape(-1) * len(groups.categories) + groups.codes
    present, positions = np.unique(pairs, return_inverse=True)
    width = len(groups.categories)
    text = np.array(
        [f"{segments[p // width]}|{groups.categories[p % width]}" for p in present], dtype=object
    )
    return text[positions.reshape(-1)]


def variance_explained(values: pd.Series, groups: np.ndarray) -> float:
    """Share of the variance of log1p(values) between groups (eta squared); 0 when constant."""
    logged = np.log1p(np.clip(values.to_numpy(dtype=float), 0.0, None))
    total = ((logged - logged.mean()) ** 2).sum()
    if total == 0:
        return 0.0
    codes, _ = pd.factorize(np.asarray(groups))  # group means by bincount: no per-group Python
    means = np.bincount(codes, weights=logged) / np.bincount(codes)
    within = logged - means[codes]
    return float(1 - (within**2).sum() / total)


def compare_with_rule(
    features: pd.DataFrame,
    labels: np.ndarray,
    reference: np.ndarray,
    model_space: np.ndarray,
    sample_size: int = 5_000,
    seed: int = 0,
    space_positions: np.ndarray | None = None,
) -> Baseline:
    """The rule, its agreement with the segments, and its separation in the two spaces the
    chosen model was scored in (the reference space and the model's own), measured the same way.

    The two spaces hold the rows at `space_positions` (every row when None): the rule's
    separation is measured on those customers.
    """
    features = positional(features)
    labels = np.asarray(labels, dtype=np.int64)
    rule = rule_groups(features)
    rule_in_space = rule if space_positions is None else rule[space_positions]
    repayment = repayment_groups(features)
    combined = segment_and_repayment(labels, repayment)
    explained = pd.DataFrame(
        {
            "segments": {
                label: variance_explained(features[q], labels)
                for q, label in KEY_QUANTITIES.items()
            },
            "rule": {
                label: variance_explained(features[q], rule) for q, label in KEY_QUANTITIES.items()
            },
            "segments x repayment": {
                label: variance_explained(features[q], combined)
                for q, label in KEY_QUANTITIES.items()
            },
        }
    )
    crosstab = pd.crosstab(
        pd.Series(labels, name="segment"),
        pd.Series(pd.Categorical.from_codes(rule, categories=list(RULE_GROUPS)), name="rule group"),
    ).reindex(columns=[g for g in RULE_GROUPS], fill_value=0)
    return Baseline(
        rule_labels=rule,
        agreement_ari=float(adjusted_rand_score(labels, rule)),
        rule_reference_silhouette=reference_silhouette(reference, rule_in_space, sample_size),
        rule_model_silhouette=separation_metrics(
            np.asarray(model_space, dtype=float), rule_in_space, sample_size=sample_size, seed=seed
        )["silhouette"],
        crosstab=crosstab,
        variance_explained=explained,
        repayment=repayment,
    )


CLOSE_AGREEMENT = 0.8  # ARI above which the segments are "close to the rule"
CLOSE_SEPARATION = 0.02  # the selection rule's silhouette tie


def verdict(baseline: Baseline, segments_reference_silhouette: float) -> str:
    """One sentence on what clustering adds over the rule, from this run's numbers."""
    gap = segments_reference_silhouette - baseline.rule_reference_silhouette
    explained = baseline.variance_explained
    gains = (explained["segments"] - explained["rule"]).sort_values(ascending=False)
    best, gain = str(gains.index[0]), float(gains.iloc[0])
    if baseline.agreement_ari >= CLOSE_AGREEMENT and abs(gap) < CLOSE_SEPARATION:
        return (
            f"The segments are close to the rule (ARI {baseline.agreement_ari:.3f}) and separate "
            f"about as well ({gap:+.3f} in the reference space): clustering mostly confirms what "
            f"the rule already says; what it adds is {gain:.1%} more of the variance of log "
            f"{best}, and segments found from the data rather than assumed."
        )
    return (
        f"The segments agree with the rule at ARI {baseline.agreement_ari:.3f} and separate "
        f"{'better' if gap > 0 else 'worse'} by {abs(gap):.3f} in the reference space; the "
        f"largest gain in explained variance is {gain:.1%} of log {best}."
    )
