"""Package the chosen cell as the model users will load: pipeline, names and segment card.

The card is what the champion carries beyond its pipeline, as JSON (`SegmentModel.card`, and
`extra_files/segment_card.json` inside the logged model):

- `format`, `cell_id`, `feature_set`, `algorithm`, `k`: what was fitted.
- `segments`: per segment id (as text), its name, archetype and profile (sizes, medians,
  portfolio shares), computed by the flow before promotion.
- `reference`: `SegmentModel.describe` on the training rows (a seeded sample of
  DESCRIBE_MAX_ROWS when there are more): per input column and per model
  feature the missing share, mean, std and quantiles at `quantile_levels`; `segment_shares`;
  the quantiles and 99th percentile (`distance_p99`) of the distance to the segment centre.
  A drift check computes `describe` on new rows with the same model and compares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.model.segment_model import SegmentModel
from tasks.segmentation.fit import CellResult

CARD_FORMAT = "ccseg.segment-card/1"


def package_model(
    result: CellResult,
    clean: pd.DataFrame,
    segment_names: Mapping[int, str],
    segments: Mapping[str, Mapping[str, object]],
) -> SegmentModel:
    """A `SegmentModel` of the fitted cell, its names, and a card with the reference statistics.

    Raises ValueError when a segment the model assigns has no name: a champion without names
    is what this step exists to prevent.
    """
    unnamed = sorted(set(int(s) for s in result.labels) - set(segment_names))
    if unnamed:
        raise ValueError(f"segments {unnamed} have no name: the model would not be complete")
    model = SegmentModel(result.pipeline, {int(k): str(v) for k, v in segment_names.items()})
    cell = result.cell
    card = {
        "format": CARD_FORMAT,
        "cell_id": cell.cell_id,
        "feature_set": cell.feature_set,
        "algorithm": cell.algorithm,
        "k": cell.k,
        "segments": dict(segments),
        "reference": model.describe(clean),
    }
    model.card_json = json.dumps(card, indent=2, allow_nan=False)
    return model


@task(name="package-segment-model", cache_policy=NO_CACHE)
def package_segment_model(
    result: CellResult,
    clean: pd.DataFrame,
    segment_names: Mapping[int, str],
    segments: Mapping[str, Mapping[str, object]],
) -> SegmentModel:
    """`package_model`, as the flow's step before promotion."""
    return package_model(result, clean, segment_names, segments)
