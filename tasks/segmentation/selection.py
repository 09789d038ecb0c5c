"""The written rule that picks the segmentation, and the comparison that guards the champion.

Rule, in order:
1. Eligible cells are usable by a business: between MIN_SEGMENTS and MAX_SEGMENTS segments,
   none smaller than MIN_SEGMENT_SHARE of customers, at most MAX_NOISE_SHARE left unassigned,
   and stable (mean bootstrap ARI at least MIN_STABILITY), because a segmentation that changes
   when a tenth of the customers change is not one to build a strategy on.
2. Among eligible cells, the best separation (silhouette) wins. Silhouettes from different
   feature spaces are not strictly comparable; stability in step 1 is what keeps a space that
   merely flatters the metric from winning.
3. Cells within SILHOUETTE_TIE of the best are practically tied: prefer the more stable one,
   then fewer segments (fewer segments are cheaper to act on), then the cell id for determinism.
If no cell is eligible, the best-separated cell with at least two segments is chosen and the
reasoning says loudly that no candidate met the bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MIN_SEGMENTS = 3
MAX_SEGMENTS = 8
MIN_SEGMENT_SHARE = 0.03
MAX_NOISE_SHARE = 0.10
MIN_STABILITY = 0.75
SILHOUETTE_TIE = 0.02
# A challenger must beat the champion by more than noise to take its place: no churn on reruns.
PROMOTION_MARGIN = 0.005


@dataclass(frozen=True)
class Selection:
    """The chosen cell, the eligibility of every cell, and the reasoning as markdown."""

    chosen_cell_id: str
    eligible: pd.Series
    reasoning: str
    relaxed: bool


def eligibility(grid: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per criterion, plus `eligible` (all of them)."""
    checks = pd.DataFrame(
        {
            "segments_actionable": grid["n_segments"].between(MIN_SEGMENTS, MAX_SEGMENTS),
            "no_tiny_segment": grid["min_segment_share"] >= MIN_SEGMENT_SHARE,
            "little_noise": grid["noise_share"].fillna(0) <= MAX_NOISE_SHARE,
            "stable": grid["stability_ari"] >= MIN_STABILITY,
        },
        index=grid.index,
    )
    checks["eligible"] = checks.all(axis=1)
    return checks


def _ordered(candidates: pd.DataFrame) -> pd.DataFrame:
    best = candidates["silhouette"].max()
    tied = candidates[candidates["silhouette"] >= best - SILHOUETTE_TIE]
    return tied.sort_values(
        ["stability_ari", "n_segments", "cell_id"], ascending=[False, True, True], kind="stable"
    )


def select_cell(grid: pd.DataFrame) -> Selection:
    """Apply the rule to a grid table (one row per cell: `cell_id` + the fixed metric names)."""
    if grid.empty:
        raise ValueError("no grid results to select from")
    checks = eligibility(grid)
    eligible = grid[checks["eligible"]]
    relaxed = eligible.empty
    pool = grid[grid["n_segments"] >= 2] if relaxed else eligible
    if pool.empty:
        raise ValueError("every grid cell found fewer than two segments: nothing to select")
    chosen = _ordered(pool).iloc[0]
    reasoning = _explain(grid, checks, chosen, relaxed)
    return Selection(str(chosen["cell_id"]), checks["eligible"], reasoning, relaxed)


def _explain(grid: pd.DataFrame, checks: pd.DataFrame, chosen: pd.Series, relaxed: bool) -> str:
    failed = {name: int((~checks[name]).sum()) for name in checks.columns if name != "eligible"}
    lines = [
        f"**Chosen: `{chosen['cell_id']}`** — {int(chosen['n_segments'])} segments, "
        f"silhouette {chosen['silhouette']:.3f}, stability (mean bootstrap ARI) "
        f"{chosen['stability_ari']:.3f}, smallest segment {chosen['min_segment_share']:.1%}.",
        "",
        f"{len(grid)} grid cells were compared; "
        f"{int(checks['eligible'].sum())} met every criterion "
        f"({MIN_SEGMENTS}-{MAX_SEGMENTS} segments: {failed['segments_actionable']} failed; "
        f"no segment under {MIN_SEGMENT_SHARE:.0%}: {failed['no_tiny_segment']} failed; "
        f"noise at most {MAX_NOISE_SHARE:.0%}: {failed['little_noise']} failed; "
        f"stability at least {MIN_STABILITY}: {failed['stable']} failed).",
    ]
    if relaxed:
        lines += [
            "",
            "**Warning: no cell met every criterion.** The best-separated cell with at least two "
            "segments was taken; treat these segments as exploratory.",
        ]
    else:
        tied = grid[
            checks["eligible"] & (grid["silhouette"] >= chosen["silhouette"] - SILHOUETTE_TIE)
        ]
        lines += [
            "",
            f"Among eligible cells the best silhouette wins; {len(tied)} cell(s) were within "
            f"{SILHOUETTE_TIE} of it and were ordered by stability, then fewer segments.",
        ]
        runner_up = grid[checks["eligible"] & (grid["cell_id"] != chosen["cell_id"])]
        if not runner_up.empty:
            second = _ordered(runner_up).iloc[0]
            lines.append(
                f"Runner-up: `{second['cell_id']}` (silhouette {second['silhouette']:.3f}, "
                f"stability {second['stability_ari']:.3f}, {int(second['n_segments'])} segments)."
            )
    return "\n".join(lines)


def beats(candidate: dict[str, float], incumbent: dict[str, float]) -> bool:
    """True when the candidate is better than the incumbent under the same rule, by a margin.

    Both are judged on the same data. Eligibility first; then silhouette beyond the promotion
    margin; a tie on silhouette is broken by stability beyond the margin. Equal models never
    replace each other, so a rerun on the same data keeps its champion.
    """
    frame = pd.DataFrame([candidate, incumbent])
    candidate_ok, incumbent_ok = eligibility(frame)["eligible"].tolist()
    if candidate_ok != incumbent_ok:
        return candidate_ok
    gain = candidate["silhouette"] - incumbent["silhouette"]
    if abs(gain) > PROMOTION_MARGIN:
        return gain > 0
    return candidate["stability_ari"] - incumbent["stability_ari"] > PROMOTION_MARGIN
