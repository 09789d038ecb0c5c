"""The written rule that picks the segmentation, and the comparison that guards the champion.

Rule, in two stages.

Screen (every grid cell). A cell is usable by a business when it has MIN_SEGMENTS to
MAX_SEGMENTS segments, none smaller than MIN_SEGMENT_SHARE of customers, at most MAX_NOISE_SHARE
left unassigned, and a screening stability (the grid's 10-resample, one-seed bootstrap ARI) of at
least SCREEN_STABILITY. The screen is lenient on stability on purpose: with one seed and few
k-means starts part of that number measures the optimiser, not the data.

Shortlist. Usable cells are ranked by their silhouette in the common reference space
(tasks/segmentation/reference.py), where feature sets compete on equal terms. Seeds of one
configuration count once (its best). Two candidates whose partitions agree at ARI >= DUPLICATE_ARI
are one partition: the simpler feature set (no PCA) represents it unless the other separates
better by more than SILHOUETTE_TIE. The top `count` partitions are the finalists.

Choice (finalists, re-measured by tasks/segmentation/finalists.py with several seeds, more starts
and at least 50 resamples). A finalist qualifies when its mean bootstrap ARI is at least
MIN_STABILITY. Among qualifiers the best reference silhouette sets the bar; finalists within
SILHOUETTE_TIE of it are practically tied on separation and are compared on stability: the most
stable sets a second bar, and finalists within STABILITY_TIE of it are practically tied on
stability too (0.986 against 0.999 is no real difference; 0.75 against 0.95 is). Among those the
better reference silhouette wins, then fewer segments (cheaper to act on), then the simpler
feature set, then the cell id.

If nothing qualifies, the best-separated candidate is taken and the reasoning says loudly that no
candidate met the bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from tasks.segmentation.features import FEATURE_SETS

if TYPE_CHECKING:
    from tasks.segmentation.finalists import FinalistResult

MIN_SEGMENTS = 3
MAX_SEGMENTS = 8
MIN_SEGMENT_SHARE = 0.03
MAX_NOISE_SHARE = 0.10
MIN_STABILITY = 0.75
SCREEN_STABILITY = 0.60
SILHOUETTE_TIE = 0.02
STABILITY_TIE = 0.02
DUPLICATE_ARI = 0.95
# Rows on which candidate partitions are compared for duplicates (bounded for large portfolios).
DUPLICATE_CHECK_ROWS = 20_000
# A challenger must beat the champion by more than noise to take its place: no churn on reruns.
PROMOTION_MARGIN = 0.005


@dataclass(frozen=True)
class Selection:
    """The chosen cell, the screen verdict of every cell, the finalists, and the reasoning."""

    chosen_cell_id: str
    eligible: pd.Series  # per grid row: passed the screen
    reasoning: str
    relaxed: bool
    finalists: pd.DataFrame  # one row per finalist, with `qualified` and `chosen`

    def decision_metrics(self, grid_metrics: Mapping[str, float]) -> dict[str, float]:
        """The chosen cell's grid metrics, with stability as its finalist re-measured it.

        The grid's stability comes from a few resamples; the finalist's from at least 50 and
        several seeds. Promotion, the registry and the parent run all quote the better one.
        """
        chosen = self.finalists[self.finalists["cell_id"] == self.chosen_cell_id]
        if chosen.empty or "stability_mean" not in chosen:
            return dict(grid_metrics)
        return dict(grid_metrics) | {"stability_ari": float(chosen["stability_mean"].iloc[0])}


def eligibility(grid: pd.DataFrame, min_stability: float = MIN_STABILITY) -> pd.DataFrame:
    """One boolean column per criterion, plus `eligible` (all of them)."""
    checks = pd.DataFrame(
        {
            "segments_actionable": grid["n_segments"].between(MIN_SEGMENTS, MAX_SEGMENTS),
            "no_tiny_segment": grid["min_segment_share"] >= MIN_SEGMENT_SHARE,
            "little_noise": grid["noise_share"].fillna(0) <= MAX_NOISE_SHARE,
            "stable": grid["stability_ari"] >= min_stability,
        },
        index=grid.index,
    )
    checks["eligible"] = checks.all(axis=1)
    return checks


def screen(grid: pd.DataFrame) -> pd.DataFrame:
    """The screen's criteria per grid cell (stability at the lenient screening bar)."""
    return eligibility(grid, SCREEN_STABILITY)


def uses_pca(feature_set: str) -> bool:
    spec = FEATURE_SETS.get(feature_set)
    return spec is not None and spec.pca_variance is not None


def _score(frame: pd.DataFrame) -> pd.Series:
    """The reference silhouette (the own-space one for tables logged before it existed)."""
    if "reference_silhouette" in frame:
        return frame["reference_silhouette"].fillna(frame["silhouette"])
    return frame["silhouette"]


def _configurations(pool: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (all but the seed): the seed that separates best."""
    key = pool["cell_id"].str.replace(r"\|seed=\d+$", "", regex=True)
    ranked = pool.assign(_score=_score(pool), _key=key).sort_values(
        ["_score", "cell_id"], ascending=[False, True], kind="stable"
    )
    return ranked.drop_duplicates("_key")


def _sample_rows(n: int) -> np.ndarray:
    if n <= DUPLICATE_CHECK_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, DUPLICATE_CHECK_ROWS, replace=False))


def shortlist(
    grid: pd.DataFrame, labels: Mapping[str, np.ndarray], count: int
) -> tuple[list[str], dict[str, str]]:
    """The finalists' cell ids, best first, and {dropped cell id: the finalist it duplicates}.

    `labels` maps a cell id to its labels for every customer (same rows for every cell).
    """
    if grid.empty:
        raise ValueError("no grid results to select from")
    passed = screen(grid)["eligible"]
    pool = grid[passed] if passed.any() else grid[grid["n_segments"] >= 2]
    if pool.empty:
        raise ValueError("every grid cell found fewer than two segments: nothing to select")
    candidates = _configurations(pool)
    rows = _sample_rows(len(next(iter(labels.values()))))
    groups: list[list[pd.Series]] = []
    for _, candidate in candidates.iterrows():
        mine = labels[candidate["cell_id"]][rows]
        for group in groups:
            if adjusted_rand_score(labels[group[0]["cell_id"]][rows], mine) >= DUPLICATE_ARI:
                group.append(candidate)
                break
        else:
            groups.append([candidate])
    finalists, duplicates = [], {}
    for group in groups:
        best = group[0]["_score"]
        close = [c for c in group if c["_score"] >= best - SILHOUETTE_TIE]
        representative = min(close, key=lambda c: (uses_pca(c["feature_set"]), -c["_score"]))
        finalists.append(representative)
        for member in group:
            if member["cell_id"] != representative["cell_id"]:
                duplicates[str(member["cell_id"])] = str(representative["cell_id"])
    finalists.sort(key=lambda c: (-c["_score"], c["cell_id"]))
    return [str(c["cell_id"]) for c in finalists[:count]], duplicates


def _finalist_table(finalists: Sequence[FinalistResult]) -> pd.DataFrame:
    table = pd.DataFrame([f.as_row() for f in finalists])
    table["qualified"] = (table["stability_mean"] >= MIN_STABILITY) & table["n_segments"].between(
        MIN_SEGMENTS, MAX_SEGMENTS
    )
    table["pca"] = table["feature_set"].map(uses_pca)
    return table


def _tied_on_separation(candidates: pd.DataFrame) -> pd.DataFrame:
    best = candidates["reference_silhouette"].max()
    return candidates[candidates["reference_silhouette"] >= best - SILHOUETTE_TIE]


def _tied_order(candidates: pd.DataFrame) -> pd.DataFrame:
    """The candidates still in the running, best first (see the module docstring)."""
    tied = _tied_on_separation(candidates)
    steady = tied[tied["stability_mean"] >= tied["stability_mean"].max() - STABILITY_TIE]
    return steady.sort_values(
        ["reference_silhouette", "n_segments", "pca", "cell_id"],
        ascending=[False, True, True, True],
        kind="stable",
    )


def select_cell(
    grid: pd.DataFrame,
    finalists: Sequence[FinalistResult],
    duplicates: Mapping[str, str] | None = None,
) -> Selection:
    """Apply the rule: `grid` has one row per cell, `finalists` are the shortlist re-measured."""
    if grid.empty:
        raise ValueError("no grid results to select from")
    if not finalists:
        raise ValueError("no finalists to choose from: run the shortlist first")
    passed = screen(grid)["eligible"]
    table = _finalist_table(finalists)
    qualified = table[table["qualified"]]
    relaxed = bool(not passed.any() or qualified.empty)
    pool = table if qualified.empty else qualified
    if relaxed:
        chosen = pool.sort_values(
            ["reference_silhouette", "cell_id"], ascending=[False, True], kind="stable"
        ).iloc[0]
    else:
        chosen = _tied_order(pool).iloc[0]
    table["chosen"] = table["cell_id"] == chosen["cell_id"]
    reasoning = _explain(grid, passed, table, chosen, relaxed, dict(duplicates or {}))
    return Selection(str(chosen["cell_id"]), passed, reasoning, relaxed, table)


def _explain(
    grid: pd.DataFrame,
    passed: pd.Series,
    table: pd.DataFrame,
    chosen: pd.Series,
    relaxed: bool,
    duplicates: dict[str, str],
) -> str:
    checks = screen(grid)
    failed = {name: int((~checks[name]).sum()) for name in checks.columns if name != "eligible"}
    lines = [
        f"**Chosen: `{chosen['cell_id']}`** — {int(chosen['n_segments'])} segments, "
        f"reference-space silhouette {chosen['reference_silhouette']:.3f}, stability (mean "
        f"bootstrap ARI over {int(chosen['resamples'])} resamples) {chosen['stability_mean']:.3f} "
        f"(95% CI {chosen['stability_ci_low']:.3f} to {chosen['stability_ci_high']:.3f}).",
        "",
        f"{len(grid)} grid cells were compared; {int(passed.sum())} passed the screen "
        f"({MIN_SEGMENTS}-{MAX_SEGMENTS} segments: {failed['segments_actionable']} failed; "
        f"no segment under {MIN_SEGMENT_SHARE:.0%}: {failed['no_tiny_segment']} failed; "
        f"noise at most {MAX_NOISE_SHARE:.0%}: {failed['little_noise']} failed; screening "
        f"stability at least {SCREEN_STABILITY}: {failed['stable']} failed).",
        "",
        f"They were ranked by silhouette in the common reference space; the best {len(table)} "
        f"distinct partitions became finalists and were re-measured (several seeds, more "
        f"starts, {int(table['resamples'].max())} resamples). A finalist qualifies with a mean "
        f"stability of at least {MIN_STABILITY}: {int(table['qualified'].sum())} of "
        f"{len(table)} did.",
    ]
    if duplicates:
        shown = ", ".join(f"`{d}` = `{f}`" for d, f in sorted(duplicates.items())[:4])
        more = f" and {len(duplicates) - 4} more" if len(duplicates) > 4 else ""
        lines.append(
            f"Partitions that agree at ARI >= {DUPLICATE_ARI} count once, represented by the "
            f"simpler feature set: {shown}{more}."
        )
    if relaxed:
        lines += [
            "",
            "**Warning: no candidate met every criterion.** The best-separated candidate was "
            "taken; treat these segments as exploratory.",
        ]
        return "\n".join(lines)
    qualified = table[table["qualified"]]
    tied = _tied_on_separation(qualified)
    steady = _tied_order(qualified)
    lines += [
        "",
        f"{len(tied)} qualified finalist(s) were within {SILHOUETTE_TIE} of the best reference "
        f"silhouette; of those, {len(steady)} were within {STABILITY_TIE} of the most stable, "
        "and among them the better reference silhouette won (then fewer segments, then the "
        "simpler feature set).",
    ]
    others = qualified[~qualified["chosen"]]
    if not others.empty:
        second = _tied_order(others).iloc[0]
        lines.append(
            f"Runner-up: `{second['cell_id']}` (reference silhouette "
            f"{second['reference_silhouette']:.3f}, stability {second['stability_mean']:.3f}, "
            f"{int(second['n_segments'])} segments)."
        )
    return "\n".join(lines)


def beats(candidate: dict[str, float], incumbent: dict[str, float]) -> bool:
    """True when the candidate is better than the incumbent under the same rule, by a margin.

    Both are judged on the same data. Eligibility first; then separation beyond the promotion
    margin (in the reference space when both were measured there, else in their own spaces);
    a tie on separation is broken by stability beyond the margin. Equal models never replace
    each other, so a rerun on the same data keeps its champion.
    """
    frame = pd.DataFrame([candidate, incumbent])
    candidate_ok, incumbent_ok = eligibility(frame)["eligible"].tolist()
    if candidate_ok != incumbent_ok:
        return candidate_ok
    metric = (
        "reference_silhouette"
        if "reference_silhouette" in candidate and "reference_silhouette" in incumbent
        else "silhouette"
    )
    gain = candidate[metric] - incumbent[metric]
    if abs(gain) > PROMOTION_MARGIN:
        return gain > 0
    return candidate["stability_ari"] - incumbent["stability_ari"] > PROMOTION_MARGIN
