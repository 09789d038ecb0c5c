"""The segmentation flow: validate -> features -> grid -> select -> promote -> segments -> report.

Read it top to bottom: every step is a task from `tasks/`; this file only wires them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from core.settings import PipelineSettings, load_settings
from tasks.data.ingest import require_clean_rows, validate_data, write_outputs
from tasks.data.source import DataSource, choose_source, materialise_source
from tasks.mlops.cell_runs import fit_and_log_cell, grid_table
from tasks.mlops.champion import previous_assignments
from tasks.mlops.registry import Promotion, promote
from tasks.mlops.run_logging import log_selection, log_validation, parent_run_tags
from tasks.mlops.tracking import TrackingContext, code_version, configure_tracking, source_hash
from tasks.report.publish import publish_outputs
from tasks.retries import retry_unless_user_error
from tasks.segmentation.evaluation import evaluate_registered
from tasks.segmentation.features import engineer_features_task
from tasks.segmentation.grid import GridCell, GridSpec, cells_for_rows, default_grid, expand_grid
from tasks.segmentation.selection import select_cell
from tasks.workdir.lock import hold_run_locks
from tasks.workdir.runs import (
    RunFolder,
    check_data_kind,
    check_work_dir_layout,
    clear_abandoned_runs,
    discard_run,
    open_run,
    publish_run,
)


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
    # Where to look afterwards: the working folder and the MLflow store the run used.
    work_dir: Path | None = None
    tracking_uri: str | None = None


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
    work_dir: Path | None = None,
    synthetic_rows: int = 20_000,
    synthetic_seed: int = 0,
) -> SegmentationSummary:
    """Segment the customers in `data_path` (else CCSEG_DATA_PATH, the real file, or synthetic).

    Everything lands in the working folder (`work_dir`, default CCSEG_WORK_DIR): the run holds its
    lock throughout, writes into a folder of its own, and is published as `outputs/` and
    `reports/` in one step at the end, or not at all.
    """
    settings = load_settings(**({"work_dir": Path(work_dir)} if work_dir is not None else {}))
    grid = grid or default_grid()
    cells = expand_grid(grid)  # a bad grid fails here, before any work
    choice = choose_source(data_path, settings, synthetic_rows, synthetic_seed)
    if choice.is_synthetic:
        settings = settings.for_synthetic_data()  # never beside, or compared with, real results
    check_work_dir_layout(settings.work_dir)
    check_data_kind(settings.work_dir, choice.is_synthetic)
    with hold_run_locks(settings):
        clear_abandoned_runs(settings.work_dir)
        run = open_run(settings.work_dir, flow_run.name or "local")
        try:
            source = materialise_source(choice, run.data, settings.work_dir)
            summary = _segment(settings, source, grid, cells, run)
            publish_run(run, source.is_synthetic, settings.keep_runs)
        except BaseException:
            discard_run(run)
            raise
    return replace(
        summary,
        segments_path=run.published(summary.segments_path),
        report_path=run.published(summary.report_path) if summary.report_path else None,
        work_dir=settings.work_dir,
        tracking_uri=settings.tracking_uri,
    )


def _segment(
    settings: PipelineSettings,
    source: DataSource,
    grid: GridSpec,
    cells: list[GridCell],
    run: RunFolder,
) -> SegmentationSummary:
    """The run itself, writing only into `run`'s folder and the MLflow store."""
    out = run.outputs
    ingest = require_clean_rows(validate_data(source.path))
    write_outputs(ingest, out / "validation")
    cells, skipped = cells_for_rows(cells, ingest.summary.rows_clean)
    if skipped:
        print(skipped)
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
        outcomes = [future.result() for future in futures]
        table = grid_table(outcomes)
        selection = select_cell(table)
        chosen = next(o for o in outcomes if o.cell.cell_id == selection.chosen_cell_id)
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
            reports_dir=run.reports,
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
