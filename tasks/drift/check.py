"""Does a batch still resemble the data the champion was trained on? Verdict none, warn or drift.

The champion carries no customer rows, only `card["reference"]`: `SegmentModel.describe` of its
training data (per-column quantiles, segment shares, distance to the centre). The batch is put
through the same `describe`, and three measures compare the two:

- per input column, the Wasserstein distance between the two distributions, in units of the
  reference's standard deviation (Evidently's default numeric drift test, computed with scipy:
  Evidently needs two row-level frames and our reference is a quantile summary, see README);
  both sides are read as the piecewise-linear quantile function through the same stored levels
  from 1% to 99% (the minimum and maximum are single customers: one outlier in a fresh sample
  would move them more than any real shift), so identical data scores exactly 0;
- the Jensen-Shannon distance between the segment shares;
- the share of customers farther from their segment centre than the training data's 99th
  percentile (1% expected).

Every measure reaches `none`, `warn` or `drift` by the thresholds in `DriftSettings`; the
verdict is the worst of them. Plain functions: the Prefect, MLflow and file side is publish.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from core.settings import DriftSettings
from tasks.model.segment_model import SegmentModel

Verdict = Literal["none", "warn", "drift"]
VERDICTS: tuple[Verdict, ...] = ("none", "warn", "drift")
NOT_CHECKED = "not_checked"
# Points at which both quantile functions are read: fine enough that interpolation error is far
# below any threshold, small enough to cost nothing.
QUANTILE_GRID = np.linspace(0.0, 1.0, 1001)
FORMAT = "ccseg.drift/1"
TAIL = 0.01  # levels below 1% and above 99% are left out of the feature scores


def level(value: float | None, warn: float, drift: float) -> Verdict:
    if value is None:
        return "none"
    return "drift" if value >= drift else "warn" if value >= warn else "none"


def worst(verdicts: list[Verdict]) -> Verdict:
    return max(verdicts, key=VERDICTS.index, default="none")


@dataclass(frozen=True)
class DriftResult:
    """The verdict and every figure behind it, ready for JSON (`as_dict`)."""

    verdict: Verdict
    checked: bool
    rows: int
    reasons: list[str]
    features: dict[str, dict[str, object]] = field(default_factory=dict)
    segment_shares: dict[str, object] = field(default_factory=dict)
    far_from_centre: dict[str, object] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "verdict": self.verdict,
            "checked": self.checked,
            "rows": self.rows,
            "reasons": self.reasons,
            "features": self.features,
            "segment_shares": self.segment_shares,
            "far_from_centre": self.far_from_centre,
            "thresholds": self.thresholds,
        }

    def summary_line(self) -> str:
        """One line for the CLI and the logs."""
        if not self.checked:
            return f"drift: not checked ({'; '.join(self.reasons)})"
        drifted = [c for c, f in self.features.items() if f["status"] == "drift"]
        moved = f"; drifted: {', '.join(drifted)}" if drifted else ""
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        return f"drift verdict: {self.verdict} on {self.rows:,} rows{moved}{why}"


def quantile_function(quantiles: list[float], levels: list[float]) -> np.ndarray:
    """The distribution between its 1st and 99th percentiles, linear between stored quantiles."""
    inner = [(p, q) for p, q in zip(levels, quantiles, strict=True) if TAIL <= p <= 1 - TAIL]
    grid = TAIL + QUANTILE_GRID * (1 - 2 * TAIL)
    return np.interp(grid, [p for p, _ in inner], [q for _, q in inner])


def feature_score(reference: dict, batch: dict, levels: list[float]) -> float | None:
    """Normed Wasserstein distance of one column; None when the batch has no value in it."""
    if reference.get("quantiles") is None or batch.get("quantiles") is None:
        return None
    distance = wasserstein_distance(
        quantile_function(reference["quantiles"], levels),
        quantile_function(batch["quantiles"], levels),
    )
    spread = reference.get("std") or 0.0
    if spread <= 0:  # a constant reference column: any movement at all is a real change
        return 0.0 if distance == 0 else float("inf")
    return float(distance / spread)


def compare_features(
    reference: dict, batch: dict, settings: DriftSettings
) -> dict[str, dict[str, object]]:
    levels = reference["quantile_levels"]
    compared: dict[str, dict[str, object]] = {}
    for column, ref in reference["inputs"].items():
        now = batch["inputs"].get(column, {})
        score = feature_score(ref, now, levels)
        compared[column] = {
            "score": None if score is None else round(score, 4),
            "status": NOT_CHECKED
            if score is None
            else level(score, settings.feature_warn, settings.feature_drift),
            "reference_median": _median(ref, levels),
            "batch_median": _median(now, levels),
            "reference_missing_share": ref.get("missing_share"),
            "batch_missing_share": now.get("missing_share", 1.0),
        }
    return compared


def _median(summary: dict, levels: list[float]) -> float | None:
    quantiles = summary.get("quantiles")
    return None if quantiles is None else float(np.interp(0.5, levels, quantiles))


def compare_shares(
    reference: dict, batch: dict, names: dict[int, str], settings: DriftSettings
) -> dict[str, object]:
    ids = sorted(set(reference["segment_shares"]) | set(batch["segment_shares"]), key=int)
    before = np.array([reference["segment_shares"].get(i, 0.0) for i in ids])
    after = np.array([batch["segment_shares"].get(i, 0.0) for i in ids])
    distance = float(jensenshannon(before, after, base=2)) if len(ids) else 0.0
    return {
        "distance": round(distance, 4),
        "status": level(distance, settings.shares_warn, settings.shares_drift),
        "segments": {
            i: {
                "name": names.get(int(i), f"Segment {i}"),
                "reference": round(float(b), 4),
                "batch": round(float(a), 4),
            }
            for i, b, a in zip(ids, before, after, strict=True)
        },
    }


def compare_distances(
    reference: dict, distances: np.ndarray, settings: DriftSettings
) -> dict[str, object]:
    p99 = reference.get("distance_p99")
    present = distances[~np.isnan(distances)]
    if p99 is None or not len(present):
        return {"share": None, "reference_p99": p99, "status": NOT_CHECKED}
    share = float((present > p99).mean())
    return {
        "share": round(share, 4),
        "reference_p99": p99,
        "status": level(share, settings.far_warn, settings.far_drift),
    }


def check_drift(
    model: SegmentModel,
    batch: pd.DataFrame,
    settings: DriftSettings,
    scored: pd.DataFrame | None = None,
) -> DriftResult:
    """Compare `batch` (rows as scoring takes them) with `model.card["reference"]`; `scored`,
    when given, is the model's output for `batch` (row for row) and saves predicting it again.

    A batch too small to judge (fewer than `settings.min_rows`, empty included) gets verdict
    `none` with `checked` false and the reason: retraining on a handful of rows would be worse
    than keeping the champion. A column absent from the batch (the optional CREDIT_LIMIT,
    MINIMUM_PAYMENTS) or empty in it is `not_checked` and named in the reasons; the verdict comes
    from the rest. A model without reference statistics is not checked either, and says so.
    """
    reference = model.card.get("reference")
    thresholds = settings.model_dump()
    rows = len(batch)
    if not reference:
        reason = "the model has no reference statistics; register it again with `ccseg run`"
        return DriftResult("none", False, rows, [reason], thresholds=thresholds)
    if rows < settings.min_rows:
        what = "the batch is empty" if rows == 0 else f"{rows:,} row(s)"
        reason = f"{what}: fewer than the {settings.min_rows} a drift check needs"
        return DriftResult("none", False, rows, [reason], thresholds=thresholds)
    described = model.describe(batch)
    features = compare_features(reference, described, settings)
    shares = compare_shares(reference, described, model.segment_names or {}, settings)
    # A scoring run has just predicted the batch: its distances are reused, not recomputed.
    assigned = scored if scored is not None else model.predict(batch)
    distances = assigned["distance"].to_numpy(dtype=float)
    far = compare_distances(reference, distances, settings)
    reasons = _reasons(features, shares, far, settings)
    statuses = [f["status"] for f in features.values()] + [shares["status"], far["status"]]
    verdict = worst([s for s in statuses if s in VERDICTS])
    return DriftResult(verdict, True, rows, reasons, features, shares, far, thresholds)


def _reasons(features: dict, shares: dict, far: dict, settings: DriftSettings) -> list[str]:
    reasons = [
        f"{column} moved {f['score']:.2f} sd (warn {settings.feature_warn:g}, "
        f"drift {settings.feature_drift:g})"
        for column, f in sorted(features.items(), key=lambda kv: -(kv[1]["score"] or 0))
        if f["status"] in ("warn", "drift")
    ]
    reasons += [
        f"{column} not checked: absent or empty in the batch"
        for column, f in features.items()
        if f["status"] == NOT_CHECKED
    ]
    if shares["status"] != "none":
        reasons.append(f"segment shares moved {shares['distance']:.2f} (Jensen-Shannon)")
    if far["status"] not in ("none", NOT_CHECKED):
        reasons.append(
            f"{far['share']:.1%} of customers are farther from their segment centre than 99% "
            "of the training customers were"
        )
    return reasons
