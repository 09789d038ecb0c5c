"""The segmentation flow: validate -> features -> grid -> finalists -> select -> describe ->
promote -> report.

Read it top to bottom: every step is a task from `tasks/`; this file only wires them. Promotion
is all-or-nothing: the model is packaged with its names, profile and reference statistics
before anything reaches the registry, and logging, registering, moving the alias and loading
the new version back run in one Prefect transaction, so a failure in any of them rolls back
the others (the previous champion stays). The report and outputs come after and cannot touch
the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import mlflow
from prefect import flow
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.transactions import transaction

from core.settings import PipelineSettings, load_settings
from tasks.data.ingest import IngestResult, require_clean_rows, validate_data, write_outputs
from tasks.data.source import DataSource, choose_source, materialise_source
from tasks.drift.publish import check_drift_against_champion
from tasks.mlops.cell_runs import (
    CellOutcome,
    assign_every_customer,
    fit_and_log_cell,
    grid_table,
    require_usable_cells,
)
from tasks.mlops.champion import evaluate_registered, previous_assignments, verify_registered_model
from tasks.mlops.model_logging import log_segment_model
from tasks.mlops.registry import (
    Promotion,
    move_alias,
    plan_promotion,
    register_version,
    version_tags,
)
from tasks.mlops.run_logging import log_selection, log_validation, parent_run_tags
from tasks.mlops.run_record import (
    Decision,
    assignments_by_name,
    log_data_input,
    mark_model_development,
    record_decision,
)
from tasks.mlops.tracking import TrackingContext, code_version, configure_tracking
from tasks.model.segment_model import SegmentModel
from tasks.profiling.segment_description import describe_segments
from tasks.report.publish import publish_outputs
from tasks.report.since_last_run import since_last_run
from tasks.segmentation.features import engineer_features_task
from tasks.segmentation.finalists import evaluate_finalist_task
from tasks.segmentation.grid import GridCell, GridSpec, cells_for_rows, default_grid, expand_grid
from tasks.segmentation.packaging import package_segment_model
from tasks.segmentation.scale import analysis_sample
from tasks.segmentation.selection import select_cell, shortlist
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

# Rows the new version must answer exactly as the flow does before it counts as promoted.
VERIFY_ROWS = 200


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


def register_all_or_nothing(
    settings: PipelineSettings,
    planned: Promotion,
    model: SegmentModel,
    chosen: CellOutcome,
    metrics: dict[str, float],
    ingest: IngestResult,
    version: str,
) -> Promotion:
    """Log, register, alias and load back the new version: all of it, or none (rollback)."""
    with transaction():
        model_uri = log_segment_model(model, settings.tracking_uri, chosen.run_id)
        tags = version_tags(chosen.cell.cell_id, ingest.summary.sha256, version, metrics)
        registered = register_version(settings.tracking_uri, planned.model_name, model_uri, tags)
        promotion = move_alias(settings.tracking_uri, planned, registered)
        sample = ingest.clean.head(VERIFY_ROWS)
        verify_registered_model(
            settings.tracking_uri,
            f"models:/{promotion.model_name}@{promotion.alias}",
            sample,
            model.predict(sample),
        )
    return promotion


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
    # Above grid.scale.sample_above_rows the grid sees a seeded sample (tasks/segmentation/scale).
    sample = analysis_sample(ingest.summary.rows_clean, grid.scale)
    frame = sample.frame(ingest.clean)
    cells, skipped = cells_for_rows(cells, sample.rows)
    if skipped:
        print(skipped)
    features = engineer_features_task(ingest.clean)
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
        mark_model_development(settings.tracking_uri, experiment_id)
        log_data_input(ingest.summary, source.path, ingest.clean)
        check_drift_against_champion(
            settings.registered_model_name,
            ingest.clean,
            source.path,
            settings.drift,
            settings.tracking_uri,
            parent.info.run_id,
        )
        mlflow.log_params(sample.params())
        context = TrackingContext(settings.tracking_uri, experiment_id, parent.info.run_id)
        futures = [
            fit_and_log_cell.submit(
                cell,
                frame,
                context,
                grid.stability_resamples,
                grid.silhouette_sample_size,
                grid.scale,
            )
            for cell in cells
        ]
        outcomes = {o.cell.cell_id: o for o in (future.result() for future in futures)}
        table = grid_table(list(outcomes.values()))
        labels = {
            o.cell.cell_id: o.result.labels for o in require_usable_cells([*outcomes.values()])
        }
        finalist_ids, duplicates = shortlist(table, labels, grid.finalists.count)
        finalists = [
            evaluate_finalist_task.submit(
                outcomes[i].cell,
                frame,
                labels[i],
                grid.finalists,
                grid.silhouette_sample_size,
                grid.scale.bounded_fit_rows,
            )
            for i in finalist_ids
        ]
        selection = select_cell(table, [f.result() for f in finalists], duplicates)
        chosen = assign_every_customer(
            outcomes[selection.chosen_cell_id], ingest.clean, sample, grid.scale.predict_chunk_rows
        )
        metrics = selection.decision_metrics(chosen.result.metrics)
        log_selection(table, selection, metrics)

        previous = previous_assignments(settings.registered_model_name, ingest.clean)
        description = describe_segments(ingest.clean, features, chosen.result.labels)
        model = package_segment_model(
            chosen.result, ingest.clean, description.segment_names(), description.card_segments()
        )
        promotion = plan_promotion(
            settings.tracking_uri,
            settings.registered_model_name,
            chosen.cell.cell_id,
            ingest.summary.sha256,
            version,
            metrics,
            evaluate_champion=partial(
                evaluate_registered,
                clean=frame,
                silhouette_sample_size=grid.silhouette_sample_size,
            ),
        )
        if promotion.alias is not None:
            promotion = register_all_or_nothing(
                settings, promotion, model, chosen, metrics, ingest, version
            )
        print(promotion.reason)
        assignments = assignments_by_name(ingest.clean, chosen.result.labels, model.segment_names)
        decision = Decision(
            chosen.cell, int(chosen.result.metrics["n_segments"]), promotion, assignments
        )
        record_decision(settings.tracking_uri, parent.info.run_id, decision)
        history = since_last_run(
            settings.tracking_uri, settings.experiment_name, parent.info.run_id
        )
        published = publish_outputs(
            ingest=ingest,
            features=features,
            table=table,
            selection=selection,
            chosen=chosen,
            model=model,
            promotion=promotion,
            previous_labels=previous,
            source=source,
            out=out,
            reports_dir=run.reports,
            grid=grid,
            economics=settings.economics,
            description=description,
            since_last_run=history,
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
