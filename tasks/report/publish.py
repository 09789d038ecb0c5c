"""The flow's outputs (customer segments, report): written and logged, after promotion.

Everything the champion needs was logged with it before its alias moved; what happens here may
fail without touching the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sklearn
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sklearn.metrics import silhouette_samples

from core.settings import EconomicsSettings
from tasks.data.ingest import IngestResult
from tasks.data.source import DataSource
from tasks.mlops.batch_scoring import score_in_chunks
from tasks.mlops.cell_runs import CellOutcome
from tasks.mlops.registry import Promotion
from tasks.mlops.tracking import TAG_CODE_VERSION, TAG_DATA_SHA, TAG_FLOW_RUN
from tasks.model.segment_model import SegmentModel
from tasks.profiling.segment_description import SegmentDescription
from tasks.report.build import Report, ReportInputs, build_report, summary_markdown, write_report
from tasks.report.feature_notes import feature_notes
from tasks.report.since_last_run import SinceLastRun
from tasks.retries import retry_unless_user_error
from tasks.segmentation.algorithms import ALGORITHMS
from tasks.segmentation.assignments import write_table
from tasks.segmentation.features import FEATURE_SETS
from tasks.segmentation.finalists import universe
from tasks.segmentation.grid import FinalistSpec, GridSpec
from tasks.segmentation.nesting import next_k_labels
from tasks.segmentation.reference import reference_space
from tasks.segmentation.robustness import robustness
from tasks.segmentation.scale import CHUNK_ROWS, transform_in_chunks
from tasks.segmentation.selection import Selection

REPORT_ARTIFACT_DIR = "report"


@dataclass(frozen=True)
class Published:
    segments_path: Path
    report_path: Path


def report_inputs(
    ingest: IngestResult,
    features: pd.DataFrame,
    table: pd.DataFrame,
    selection: Selection,
    chosen: CellOutcome,
    previous_labels: pd.Series | None,
    run_meta: dict,
    grid: GridSpec | None = None,
    economics: EconomicsSettings | None = None,
    description: SegmentDescription | None = None,
    since_last_run: SinceLastRun | None = None,
) -> ReportInputs:
    """Everything the report needs, from the flow's results (the chosen model's own space).

    `description` is the names and profiles computed before promotion: the report uses them as
    they are, so it names the segments exactly as the registered model does.

    Also refits the chosen configuration for the report's robustness appendix and its
    split-at-the-next-k figure (a few fits, with the finalists' number of starts).
    """
    finalist_spec = grid.finalists if grid is not None else FinalistSpec()
    sample_size = grid.silhouette_sample_size if grid is not None else 5_000
    chosen_row = selection.finalists[selection.finalists["cell_id"] == selection.chosen_cell_id]
    segment_jaccard = (
        dict(chosen_row["segment_jaccard"].iloc[0])
        if not chosen_row.empty and "segment_jaccard" in chosen_row
        else None
    )
    labels = pd.Series(chosen.result.labels, name="segment")
    # The report's space-based diagnostics (per-customer silhouettes, the 2-D projection, the
    # rule's separation) cost n^2 distances or a copy of the portfolio per space: they are
    # measured on a fixed seeded sample of at most max_rows customers, every customer when there
    # are fewer (the real file). Holding both spaces for 10M customers was 2.2 GB of peak memory.
    space_rows = universe(len(labels), finalist_spec.max_rows, 0)
    every_row = len(space_rows) == len(labels)
    space = transform_in_chunks(
        chosen.result.pipeline[:-1],
        ingest.clean if every_row else ingest.clean.iloc[space_rows],
        CHUNK_ROWS,
    )
    sampled_labels = labels.to_numpy()[space_rows]
    assigned = sampled_labels >= 0
    silhouettes = np.full(len(labels), np.nan)
    if len(np.unique(sampled_labels[assigned])) >= 2:
        # Distances in 256 MB blocks, not scikit-learn's default 1 GB: the same values, and the
        # block was a third of a 1M-customer run's peak memory.
        with sklearn.config_context(working_memory=256):
            silhouettes[space_rows[assigned]] = silhouette_samples(
                space[assigned], sampled_labels[assigned]
            )
    robustness_rows = universe(len(labels), finalist_spec.max_rows, chosen.cell.seed)
    return ReportInputs(
        clean=ingest.clean,
        features=features,
        labels=labels,
        validation=ingest.summary.to_dict(),
        grid=table.assign(eligible=selection.eligible.to_numpy()),
        chosen_cell_id=selection.chosen_cell_id,
        selection_reasoning=selection.reasoning,
        feature_set_descriptions={name: spec.why for name, spec in FEATURE_SETS.items()},
        algorithm_descriptions={name: algo.why for name, algo in ALGORITHMS.items()},
        feature_notes=feature_notes(ingest.clean),
        silhouette_samples=silhouettes,
        model_space=space,
        space_positions=None if every_row else space_rows,
        previous_labels=previous_labels,
        run_meta=run_meta,
        reference_space=reference_space(
            ingest.clean, CHUNK_ROWS, positions=None if every_row else space_rows
        ),
        finalists=selection.finalists,
        segment_jaccard=segment_jaccard,
        robustness=robustness(
            chosen.cell,
            ingest.clean.iloc[robustness_rows],
            chosen.result.labels[robustness_rows],
            n_init=finalist_spec.n_init,
        ),
        splits=next_k_labels(
            chosen.cell,
            ingest.clean,
            chosen.result.labels,
            n_init=finalist_spec.n_init,
            max_rows=finalist_spec.max_rows,
        ),
        economics=economics or EconomicsSettings(),
        silhouette_sample_size=sample_size,
        names=description.names if description is not None else None,
        profiles=description.profiles if description is not None else None,
        since_last_run=since_last_run,
    )


def _check_names(report: Report, model: SegmentModel) -> None:
    """The report must say what the registered model says (a guard on the wiring)."""
    named = {int(segment): entry.name for segment, entry in report.names.items()}
    if named != model.segment_names:
        raise ValueError(
            f"the report named the segments {named}, the model {model.segment_names}: "
            "the report must use the names computed before promotion"
        )


@task(
    name="publish-outputs",
    cache_policy=NO_CACHE,
    retries=1,
    retry_condition_fn=retry_unless_user_error,
)
def publish_outputs(
    *,
    ingest: IngestResult,
    features: pd.DataFrame,
    table: pd.DataFrame,
    selection: Selection,
    chosen: CellOutcome,
    model: SegmentModel,
    promotion: Promotion,
    previous_labels: pd.Series | None,
    source: DataSource,
    out: Path,
    reports_dir: Path,
    grid: GridSpec | None = None,
    economics: EconomicsSettings | None = None,
    description: SegmentDescription | None = None,
    since_last_run: SinceLastRun | None = None,
) -> Published:
    """Build the report, write the segment table, log both; publish a Prefect summary artifact.

    The segment table is `model.predict` on the clean rows (in chunks, so memory does not grow
    with the portfolio): what scoring with the registered model answers, names included.
    """
    parent = mlflow.active_run()
    tags = parent.data.tags if parent is not None else {}
    run_meta = {
        "mlflow_run_id": parent.info.run_id if parent is not None else "",
        "prefect_flow_run_id": tags.get(TAG_FLOW_RUN, ""),
        "data_sha256": tags.get(TAG_DATA_SHA, ingest.summary.sha256),
        "code_version": tags.get(TAG_CODE_VERSION, ""),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "is_synthetic": source.is_synthetic,
        "registry": promotion.reason,
    }
    inputs = report_inputs(
        ingest,
        features,
        table,
        selection,
        chosen,
        previous_labels,
        run_meta,
        grid,
        economics,
        description,
        since_last_run,
    )
    report = build_report(inputs)
    _check_names(report, model)
    report_path = write_report(report, reports_dir)
    segments_path = write_table(score_in_chunks(model, ingest.clean), out / "segments.csv")
    mlflow.log_artifacts(str(report_path.parent), REPORT_ARTIFACT_DIR)
    mlflow.log_artifact(str(segments_path), "segments")
    create_markdown_artifact(
        key="segmentation-report",
        markdown="\n\n".join(
            part
            for part in (
                f"**{source.banner}**" if source.banner else "",
                f"# Customer segments ({chosen.cell.cell_id})",
                summary_markdown(report),
                selection.reasoning,
                f"Registry: {promotion.reason}",
                f"Full report: `{report_path.resolve()}` (also in MLflow run "
                f"`{run_meta['mlflow_run_id']}` under `{REPORT_ARTIFACT_DIR}/`).",
            )
            if part
        ),
        description="Segmentation report: executive summary, choice of model, registry outcome",
    )
    return Published(segments_path=segments_path, report_path=report_path)
