"""The scoring flow: assign segments to a new batch with the registered champion model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import flow, task

from core.settings import load_settings
from tasks.data.ingest import validate_data, write_outputs
from tasks.mlops.champion import load_model_with_names
from tasks.mlops.tracking import point_mlflow_at
from tasks.retries import retry_unless_user_error
from tasks.segmentation.assignments import assign_segments, write_table


@dataclass(frozen=True)
class ScoringSummary:
    model_uri: str
    rows_in: int
    rows_scored: int
    rows_quarantined: int
    output_path: Path


# Loading reads the model store: retried, as any I/O.
load_model = task(
    load_model_with_names,
    name="load-model",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_unless_user_error,
)


@flow(name="scoring", log_prints=True)
def scoring(data_path: Path, output_path: Path, model_uri: str | None = None) -> ScoringSummary:
    """Validate `data_path` with the same contract; write customer -> segment to `output_path`."""
    settings = load_settings()
    point_mlflow_at(settings.tracking_uri)
    model_uri = model_uri or f"models:/{settings.registered_model_name}@champion"
    pipeline, names = load_model(model_uri)
    ingest = validate_data(Path(data_path))
    write_outputs(ingest, Path(output_path).parent / f"{Path(output_path).stem}_validation")
    table = assign_segments(pipeline, ingest.clean, names)
    written = write_table(table, Path(output_path))
    print(
        f"scored {len(table):,} customers with {model_uri}; "
        f"{ingest.summary.rows_quarantined:,} quarantined"
    )
    return ScoringSummary(
        model_uri, ingest.summary.rows_in, len(table), ingest.summary.rows_quarantined, written
    )
