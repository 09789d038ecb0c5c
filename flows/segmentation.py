"""The segmentation flow: validate -> features -> grid -> finalists -> select -> promote -> report.

Read it top to bottom: every step is a task from `tasks/`; this file only wires them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from core.errors import ParameterError
from core.settings import load_settings
from tasks.data.ingest import validate_data, write_outputs
from tasks.data.source import resolve_data
from tasks.mlops.cell_runs import fit_and_log_cell, grid_table
from tasks.mlops.champion import previous_assignments
from tasks.mlops.registry import Promotion, promote
from tasks.mlops.run_logging import log_selection, log_validation, parent_run_tags
from tasks.mlops.tracking import TrackingContext, code_version, configure_tracking, source_hash
from tasks.report.publish import publish_outputs
from tasks.retries import retry_unless_user_error
from tasks.segmentation.evaluation import evaluate_registered
from tasks.segmentation.features import engineer_features_task
from tasks.segmentation.finalists import evaluate_finalist_task
from tasks.segmentation.grid import GridSpec, default_grid, expand_grid
from tasks.segmentation.selection import select_cell, shortlist


@dataclass(frozen=True)
class SegmentationSummary:
    """What a run produced and where to find it."""

    parent_run_id: str
    chosen_cell_id: str
    n_segments: int
    rows_in: int
    rows_clean: int
    rows_quarantined: int
    promotion: Promotion
    segments_path: Path
    report_path: Path | None
    is_synthetic: bool


# Registry I/O is retried: a transient store error must not lose a finished grid.
promote_task = task(
    promote,
    name="promote-model",
    retries=2,
    cache_policy=NO_CACHE,
    retry_condition_fn=retry_unless_user_error,
)


@flow(name="segmentation", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=2))
def segmentation(
    data_path: Path | None = None,
    grid: GridSpec | None = None,
    output_dir: Path | None = None,
    synthetic_rows: int = 20_000,
    synthetic_seed: int = 0,
) -> SegmentationSummary:
    """Segment the customers in `data_path` (default: the real file, else synthetic data)."""
    settings = load_settings()
    grid = grid or default_grid()
    cells = expand_grid(grid)  # a bad grid fails here, before any work
    if synthetic_rows < 1:
        raise ParameterError(f"synthetic_rows must be at least 1, got {synthetic_rows}")
    out = Path(output_dir) if output_dir is not None else settings.outputs_dir

    source = resolve_data(
        data_path, settings.data_path, out / "synthetic", synthetic_rows, synthetic_seed
    )
    ingest = validate_data(source.path)
    write_outputs(ingest, out / "validation")
    features = engineer_features_task(ingest.clean, ingest.summary.sha256, source_hash())
    version = code_version()

    experiment_id = configure_tracking(
        settings.tracking_uri, settings.experiment_name, settings.artifact_location
    )
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"segmentation-{flow_run.name or 'local'}",
        tags=parent_run_tags(flow_run.id, ingest.summary.sha256, version, source.is_synthetic),
    ) as parent:
        log_validation(ingest.summary, grid, len(cells))
        context = TrackingContext(settings.tracking_uri, experiment_id, parent.info.run_id)
        futures = [
            fit_and_log_cell.submit(
                cell, ingest.clean, context, grid.stability_resamples, grid.silhouette_sample_size
            )
            for cell in cells
        ]
        outcomes = {o.cell.cell_id: o for o in (future.result() for future in futures)}
        table = grid_table(list(outcomes.values()))
        labels = {cell_id: o.result.labels for cell_id, o in outcomes.items()}
        finalist_ids, duplicates = shortlist(table, labels, grid.finalists.count)
        finalists = [
            evaluate_finalist_task.submit(
                outcomes[i].cell,
                ingest.clean,
                labels[i],
                grid.finalists,
                grid.silhouette_sample_size,
            )
            for i in finalist_ids
        ]
        selection = select_cell(table, [f.result() for f in finalists], duplicates)
        chosen = outcomes[selection.chosen_cell_id]
        log_selection(table, selection, chosen.result.metrics)

        previous = previous_assignments(settings.registered_model_name, ingest.clean)
        promotion = promote_task(
            tracking_uri=settings.tracking_uri,
            model_name=settings.registered_model_name,
            model_uri=chosen.model_uri,
            cell_id=chosen.cell.cell_id,
            data_sha256=ingest.summary.sha256,
            code_version=version,
            candidate_metrics=chosen.result.metrics,
            evaluate_champion=lambda uri: evaluate_registered(
                uri, ingest.clean, grid.silhouette_sample_size
            ),
        )
        print(promotion.reason)
        published = publish_outputs(
            ingest=ingest,
            features=features,
            table=table,
            selection=selection,
            chosen=chosen,
            promotion=promotion,
            previous_labels=previous,
            source=source,
            out=out,
            reports_dir=settings.reports_dir,
            grid=grid,
            economics=settings.economics,
        )

    return SegmentationSummary(
        parent_run_id=parent.info.run_id,
        chosen_cell_id=chosen.cell.cell_id,
        n_segments=int(chosen.result.metrics["n_segments"]),
        rows_in=ingest.summary.rows_in,
        rows_clean=ingest.summary.rows_clean,
        rows_quarantined=ingest.summary.rows_quarantined,
        promotion=promotion,
        segments_path=published.segments_path,
        report_path=published.report_path,
        is_synthetic=source.is_synthetic,
    )
