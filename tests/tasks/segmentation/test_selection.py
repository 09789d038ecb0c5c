"""The selection rule: screen, shortlist in the reference space, choose among finalists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.segmentation.finalists import FinalistResult, StabilityEstimate
from tasks.segmentation.grid import GridCell
from tasks.segmentation.selection import (
    MIN_STABILITY,
    PROMOTION_MARGIN,
    SCREEN_STABILITY,
    SILHOUETTE_TIE,
    beats,
    screen,
    select_cell,
    shortlist,
)

N = 400
RNG = np.random.default_rng(0)
BASE = RNG.integers(0, 4, N)


def _row(feature_set: str, k: int, reference: float, **metrics: float) -> dict:
    return {
        "cell_id": f"{feature_set}|kmeans|k={k}|seed=0",
        "feature_set": feature_set,
        "algorithm": "kmeans",
        "k": k,
        "seed": 0,
        "silhouette": metrics.get("silhouette", reference),
        "reference_silhouette": reference,
        "n_segments": k,
        "min_segment_share": metrics.get("min_segment_share", 0.1),
        "noise_share": 0.0,
        "stability_ari": metrics.get("stability_ari", 0.9),
    }


def _relabel(labels: np.ndarray, noise: float, seed: int) -> np.ndarray:
    out = labels.copy()
    flip = np.random.default_rng(seed).random(len(out)) < noise
    out[flip] = np.random.default_rng(seed + 1).integers(0, 4, flip.sum())
    return out


def _finalist(cell_id: str, k: int, reference: float, stability: float) -> FinalistResult:
    feature_set = cell_id.split("|")[0]
    return FinalistResult(
        cell=GridCell(feature_set, "kmeans", k, 0, (("max_iter", 300), ("n_init", 10))),
        n_segments=k,
        reference_silhouette=reference,
        silhouette=reference,
        seeds=3,
        n_init=10,
        seed_agreement=1.0,
        registered_agreement=1.0,
        stability=StabilityEstimate(stability, stability - 0.02, stability + 0.02, 0.8, 50),
        segment_jaccard={i: 0.9 for i in range(k)},
        rows=N,
        seconds=0.0,
    )


def test_the_screen_lets_noisy_stability_through_but_not_tiny_segments():
    grid = pd.DataFrame(
        [
            _row("behavioural", 4, 0.2, stability_ari=SCREEN_STABILITY + 0.01),
            _row("behavioural", 5, 0.2, stability_ari=SCREEN_STABILITY - 0.01),
            _row("behavioural", 6, 0.2, min_segment_share=0.01),
        ]
    )
    assert screen(grid)["eligible"].tolist() == [True, False, False]


def test_a_pca_twin_of_the_same_partition_is_one_finalist_represented_without_pca():
    grid = pd.DataFrame(
        [
            _row("behavioural_pca", 4, 0.231),
            _row("behavioural", 4, 0.230),
            _row("log_scaled", 6, 0.200),
        ]
    )
    labels = {
        grid.cell_id[0]: BASE,
        grid.cell_id[1]: BASE.copy(),  # the same partition
        grid.cell_id[2]: RNG.integers(0, 6, N),
    }
    ids, duplicates = shortlist(grid, labels, count=4)
    assert ids == ["behavioural|kmeans|k=4|seed=0", "log_scaled|kmeans|k=6|seed=0"]
    assert duplicates == {"behavioural_pca|kmeans|k=4|seed=0": "behavioural|kmeans|k=4|seed=0"}


def test_pca_keeps_its_place_when_it_separates_better_by_more_than_the_tie():
    grid = pd.DataFrame(
        [_row("behavioural_pca", 4, 0.25 + SILHOUETTE_TIE), _row("behavioural", 4, 0.24)]
    )
    labels = {grid.cell_id[0]: BASE, grid.cell_id[1]: BASE.copy()}
    ids, _ = shortlist(grid, labels, count=4)
    assert ids == ["behavioural_pca|kmeans|k=4|seed=0"]


def test_the_shortlist_is_ranked_by_reference_not_own_silhouette_and_capped():
    grid = pd.DataFrame(
        [
            _row("log_scaled", 3, 0.10, silhouette=0.9),
            _row("behavioural", 4, 0.30, silhouette=0.2),
            _row("behavioural", 5, 0.20, silhouette=0.2),
        ]
    )
    labels = {c: _relabel(BASE, 0.6, i) for i, c in enumerate(grid.cell_id)}
    ids, _ = shortlist(grid, labels, count=2)
    assert ids == ["behavioural|kmeans|k=4|seed=0", "behavioural|kmeans|k=5|seed=0"]


def test_within_the_tie_the_more_stable_finalist_wins_and_an_unstable_one_never_does():
    grid = pd.DataFrame([_row("behavioural", 4, 0.23), _row("behavioural", 5, 0.22)])
    grid = pd.concat([grid, pd.DataFrame([_row("log_scaled", 6, 0.30)])], ignore_index=True)
    finalists = [
        _finalist("log_scaled|kmeans|k=6|seed=0", 6, 0.30, MIN_STABILITY - 0.01),
        _finalist("behavioural|kmeans|k=4|seed=0", 4, 0.23, 0.95),
        _finalist("behavioural|kmeans|k=5|seed=0", 5, 0.235, 0.80),
    ]
    selection = select_cell(grid, finalists)
    assert selection.chosen_cell_id == "behavioural|kmeans|k=4|seed=0"
    assert not selection.relaxed
    assert selection.finalists.set_index("cell_id")["qualified"].to_dict() == {
        "log_scaled|kmeans|k=6|seed=0": False,
        "behavioural|kmeans|k=4|seed=0": True,
        "behavioural|kmeans|k=5|seed=0": True,
    }
    assert "0.950 (95% CI 0.930 to 0.970)" in selection.reasoning


def test_no_qualified_finalist_is_a_loud_relaxed_choice():
    grid = pd.DataFrame([_row("behavioural", 4, 0.23)])
    selection = select_cell(grid, [_finalist(grid.cell_id[0], 4, 0.23, 0.5)])
    assert selection.relaxed
    assert "no candidate met every criterion" in selection.reasoning


def test_selection_needs_finalists():
    with pytest.raises(ValueError, match="no finalists"):
        select_cell(pd.DataFrame([_row("behavioural", 4, 0.2)]), [])


def test_promotion_compares_in_the_reference_space_when_both_were_measured_there():
    common = {"n_segments": 4, "min_segment_share": 0.2, "noise_share": 0.0, "stability_ari": 0.9}
    candidate = {**common, "silhouette": 0.25, "reference_silhouette": 0.23}
    incumbent = {**common, "silhouette": 0.30, "reference_silhouette": 0.20}
    assert beats(candidate, incumbent)
    assert not beats({**candidate, "reference_silhouette": 0.20}, incumbent)
    own_only = {k: v for k, v in candidate.items() if k != "reference_silhouette"}
    assert not beats(own_only, incumbent)  # falls back to the own-space silhouette


def test_stability_only_decides_when_the_difference_is_more_than_noise():
    grid = pd.DataFrame([_row("behavioural", 4, 0.2275), _row("behavioural", 3, 0.2201)])
    finalists = [
        _finalist("behavioural|kmeans|k=4|seed=0", 4, 0.2275, 0.986),
        _finalist("behavioural|kmeans|k=3|seed=0", 3, 0.2201, 0.9998),
    ]
    # 0.986 against 0.9998 is inside STABILITY_TIE: the better separation wins, not the 3.
    assert select_cell(grid, finalists).chosen_cell_id == "behavioural|kmeans|k=4|seed=0"
    shaky = [_finalist(finalists[0].cell.cell_id, 4, 0.2275, 0.95), finalists[1]]
    assert select_cell(grid, shaky).chosen_cell_id == "behavioural|kmeans|k=3|seed=0"


PROMOTION_BASE = {"n_segments": 4.0, "min_segment_share": 0.2, "noise_share": 0.0}


def metrics(silhouette: float, stability: float, **extra: float) -> dict[str, float]:
    return PROMOTION_BASE | {"silhouette": silhouette, "stability_ari": stability} | extra


PROMOTIONS = {
    "better silhouette beyond the margin": (metrics(0.31, 0.9), metrics(0.30, 0.9), True),
    "worse silhouette beyond the margin": (metrics(0.29, 0.9), metrics(0.30, 0.9), False),
    "silhouette within the margin, same stability": (
        metrics(0.30 + PROMOTION_MARGIN * 0.9, 0.9),
        metrics(0.30, 0.9),
        False,
    ),
    "silhouette within the margin, stabler beyond it": (
        metrics(0.30, 0.9 + PROMOTION_MARGIN * 2),
        metrics(0.30, 0.9),
        True,
    ),
    "silhouette within the margin, stabler within it": (
        metrics(0.30, 0.9 + PROMOTION_MARGIN * 0.5),
        metrics(0.30, 0.9),
        False,
    ),
    "identical models": (metrics(0.30, 0.9), metrics(0.30, 0.9), False),
    "eligible beats ineligible whatever the silhouette": (
        metrics(0.20, 0.9),
        metrics(0.50, 0.9, n_segments=2.0),
        True,
    ),
    "ineligible never beats eligible": (
        metrics(0.50, 0.9, n_segments=2.0),
        metrics(0.20, 0.9),
        False,
    ),
}


@pytest.mark.parametrize(("candidate", "incumbent", "wins"), PROMOTIONS.values(), ids=PROMOTIONS)
def test_a_candidate_beats_the_champion_only_by_more_than_the_margin(
    candidate: dict, incumbent: dict, wins: bool
) -> None:
    assert beats(candidate, incumbent) is wins


def test_the_decision_quotes_the_finalists_stability_not_the_grids() -> None:
    grid = pd.DataFrame([_row("behavioural", 4, 0.2275, stability_ari=0.81)])
    finalists = [_finalist("behavioural|kmeans|k=4|seed=0", 4, 0.2275, 0.986)]
    selection = select_cell(grid, finalists)

    metrics = selection.decision_metrics({"silhouette": 0.23, "stability_ari": 0.81})

    assert metrics == {"silhouette": 0.23, "stability_ari": 0.986}
