"""Event-driven runs: what a landed batch and a drift verdict start (prefect.yaml).

`new_batch` (deployment `on-new-data`, triggered by `ccseg.data.landed`): score the batch with
the champion, which checks it for drift; with no champion yet there is nothing to score with or
compare against, so the batch is segmented to make the first one.

`retrain` (deployment `retrain-on-drift`, triggered by `ccseg.drift.detected` with verdict
`drift` from a scoring run): segment the drifted batch. Its own drift check is emitted with
source `segmentation`, which no trigger matches: a retraining run never starts another.

Both use the grid of their `grid` parameter, else CCSEG_EVENT_GRID, else the default grid.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from core.errors import ParameterError
from core.settings import PipelineSettings, load_settings
from flows.scoring import ScoringSummary, scoring
from flows.segmentation import SegmentationSummary, segmentation
from tasks.mlops.champion import current_champion, loads_in_this_format
from tasks.mlops.tracking import point_mlflow_at
from tasks.segmentation.grid import GridSpec, expand_grid, parse_grid_spec

SCORED_DIR = "scored"


def event_grid(grid: GridSpec | None, settings: PipelineSettings) -> GridSpec | None:
    """The grid for an event-driven run: the parameter, else CCSEG_EVENT_GRID, else None."""
    if grid is not None or not settings.event_grid:
        return grid
    text = settings.event_grid
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ParameterError(f"CCSEG_EVENT_GRID file not found: {path}")
        text = path.read_text()
    spec = parse_grid_spec(text)
    expand_grid(spec)  # a bad grid fails before any work
    return spec


def has_champion(settings: PipelineSettings) -> bool:
    if settings.sqlite_store_path is not None and not settings.sqlite_store_path.is_file():
        return False
    point_mlflow_at(settings.tracking_uri)
    champion = current_champion(settings.registered_model_name)
    return champion is not None and loads_in_this_format(champion)


def scored_path(settings: PipelineSettings, data_path: Path) -> Path:
    """Where an event-driven scoring run writes: `<work dir>/scored/<batch stem>.csv`."""
    return settings.work_dir / SCORED_DIR / f"{Path(data_path).stem}.csv"


@flow(name="new-batch", log_prints=True)
def new_batch(
    data_path: Path, grid: GridSpec | None = None
) -> ScoringSummary | SegmentationSummary:
    """Score a landed batch (drift check included); with no champion yet, segment it."""
    settings = load_settings()
    if has_champion(settings):
        out = scored_path(settings, data_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        return scoring(data_path=data_path, output_path=out)
    print("no champion yet: segmenting the batch to make one")
    return segmentation(data_path=data_path, grid=event_grid(grid, settings))


@flow(name="retrain", log_prints=True)
def retrain(data_path: Path, grid: GridSpec | None = None) -> SegmentationSummary:
    """Segment a batch the drift check flagged; promotion rules as in every run."""
    return segmentation(data_path=data_path, grid=event_grid(grid, load_settings()))
