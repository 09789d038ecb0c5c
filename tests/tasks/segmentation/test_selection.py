"""The written selection rule (eligibility, tie band, ordering, relaxed fallback) and `beats`."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.segmentation.selection import (
    MIN_SEGMENT_SHARE,
    MIN_STABILITY,
    PROMOTION_MARGIN,
    SILHOUETTE_TIE,
    beats,
    eligibility,
    select_cell,
)

GOOD = {
    "n_segments": 4.0,
    "min_segment_share": 0.2,
    "noise_share": 0.0,
    "stability_ari": 0.9,
    "silhouette": 0.30,
}


def grid(**cells: dict[str, float]) -> pd.DataFrame:
    """A grid table: one row per named cell, GOOD metrics unless overridden."""
    return pd.DataFrame(
        [{"cell_id": cell_id, **GOOD, **metrics} for cell_id, metrics in cells.items()]
    )


CRITERIA = {
    "too few segments": ({"n_segments": 2.0}, "segments_actionable"),
    "too many segments": ({"n_segments": 9.0}, "segments_actionable"),
    "a tiny segment": ({"min_segment_share": MIN_SEGMENT_SHARE - 0.001}, "no_tiny_segment"),
    "too much noise": ({"noise_share": 0.11}, "little_noise"),
    "unstable": ({"stability_ari": MIN_STABILITY - 0.001}, "stable"),
}


@pytest.mark.parametrize(("metrics", "criterion"), CRITERIA.values(), ids=CRITERIA)
def test_each_criterion_alone_makes_a_cell_ineligible(metrics: dict, criterion: str) -> None:
    checks = eligibility(grid(bad=metrics, good={}))

    assert not checks.loc[0, criterion]
    assert not checks.loc[0, "eligible"]
    assert checks.loc[1, "eligible"]
    assert checks.loc[0].drop([criterion, "eligible"]).all()


def test_the_best_eligible_silhouette_wins_beyond_the_tie_band() -> None:
    table = grid(
        best={"silhouette": 0.40, "stability_ari": 0.80},
        stabler={"silhouette": 0.40 - SILHOUETTE_TIE - 0.001, "stability_ari": 0.99},
        ineligible_better={"silhouette": 0.60, "n_segments": 2.0},
    )

    assert select_cell(table).chosen_cell_id == "best"


def test_within_the_tie_band_the_more_stable_cell_wins() -> None:
    table = grid(
        best={"silhouette": 0.40, "stability_ari": 0.80},
        stabler={"silhouette": 0.40 - SILHOUETTE_TIE + 0.001, "stability_ari": 0.95},
    )

    selection = select_cell(table)

    assert selection.chosen_cell_id == "stabler"
    assert "2 cell(s) were within" in selection.reasoning
    assert "Runner-up: `best`" in selection.reasoning


def test_equal_stability_in_the_band_prefers_fewer_segments_then_the_cell_id() -> None:
    fewer = grid(
        b_five={"n_segments": 5.0},
        c_four={"n_segments": 4.0},
        a_five={"n_segments": 5.0},
    )
    same = grid(b_four={}, a_four={})

    assert select_cell(fewer).chosen_cell_id == "c_four"
    assert select_cell(same).chosen_cell_id == "a_four"


def test_no_eligible_cell_falls_back_to_the_best_separated_and_says_so() -> None:
    table = grid(
        unstable={"silhouette": 0.5, "stability_ari": 0.5},
        one_segment={"silhouette": 0.9, "n_segments": 1.0, "stability_ari": 0.5},
        tiny={"silhouette": 0.45, "min_segment_share": 0.001},
    )

    selection = select_cell(table)

    assert selection.relaxed
    assert selection.chosen_cell_id == "unstable"  # one segment is never a segmentation
    assert "no cell met every criterion" in selection.reasoning
    assert not selection.eligible.any()


def test_a_grid_without_two_segments_anywhere_is_an_error() -> None:
    with pytest.raises(ValueError, match="fewer than two segments"):
        select_cell(grid(a={"n_segments": 1.0}, b={"n_segments": 0.0}))
    with pytest.raises(ValueError, match="no grid results"):
        select_cell(grid().reindex(columns=["cell_id", *GOOD]))


def test_eligibility_is_returned_for_every_cell_in_grid_order() -> None:
    table = grid(a={}, b={"n_segments": 2.0}, c={})

    assert select_cell(table).eligible.tolist() == [True, False, True]


def metrics(silhouette: float, stability: float, **extra: float) -> dict[str, float]:
    return GOOD | {"silhouette": silhouette, "stability_ari": stability} | extra


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
