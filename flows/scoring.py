"""The scoring flow: assign segments to a new batch with the registered champion model.

The batch goes through the same contract as training (bad rows to quarantine, with reasons);
the clean rows go to the champion through `mlflow.pyfunc`, exactly as any MLflow user calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import flow

from core.settings import load_settings
from tasks.data.ingest import validate_data, write_outputs
from tasks.mlops.champion import load_model
from tasks.segmentation.assignments import write_table


@dataclass(frozen=True)
class ScoringSummary:
    model_uri: str
    rows_in: int
    rows_scored: int
    rows_quarantined: int
    output_path: Path


@flow(name="scoring", log_prints=True)
def scoring(data_path: Path, output_path: Path, model_uri: str | None = None) -> ScoringSummary:
    """Validate `data_path` with the same contract; write customer -> segment to `output_path`."""
    settings = load_settings()
    model_uri = model_uri or f"models:/{settings.registered_model_name}@champion"
    model = load_model(settings.tracking_uri, model_uri)
    ingest = validate_data(Path(data_path))
    write_outputs(ingest, Path(output_path).parent / f"{Path(output_path).stem}_validation")
    table = model.predict(ingest.clean)
    written = write_table(table, Path(output_path))
    print(
        f"scored {len(table):,} customers with {model_uri}; "
        f"{ingest.summary.rows_quarantined:,} quarantined"
    )
    return ScoringSummary(
        model_uri, ingest.summary.rows_in, len(table), ingest.summary.rows_quarantined, written
    )
