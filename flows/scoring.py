"""The scoring flow: assign segments to a new batch with the registered champion model.

The batch goes through the same contract as training (bad rows to quarantine, with reasons);
the clean rows go to the champion through `mlflow.pyfunc`, exactly as any MLflow user calls it.
Every scoring run is an MLflow run (experiment `<experiment>-scoring`) that records the drift
check of the batch against the champion's reference; drift is reported, never a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
from prefect import flow
from prefect.runtime import flow_run

from core.errors import ParameterError
from core.paths import require_input_file, require_writable_dir, require_writable_file
from core.settings import load_settings, require_existing_store
from tasks.data.ingest import require_clean_rows, validate_data, write_validation
from tasks.drift.publish import check_batch_drift, drift_json_path, write_drift_json
from tasks.mlops.batch_scoring import score_in_chunks
from tasks.mlops.champion import load_model
from tasks.mlops.tracking import TAG_DATA_SHA, TAG_FLOW_RUN, configure_tracking
from tasks.segmentation.assignments import write_scores


@dataclass(frozen=True)
class ScoringOutputs:
    """Every file `ccseg score --out PATH` writes: the table twice, and the validation beside it."""

    table: Path  # CSV, as named by the user
    parquet: Path
    validation_dir: Path  # clean.parquet, quarantine.csv (rejected rows with reasons), summary
    drift: Path  # <stem>.drift.json: the verdict and the per-feature figures

    @classmethod
    def for_path(cls, output_path: Path) -> ScoringOutputs:
        path = Path(output_path)
        return cls(
            path,
            path.with_suffix(".parquet"),
            path.with_name(f"{path.stem}_validation"),
            drift_json_path(path),
        )

    def check(self) -> ScoringOutputs:
        """Each target writable and of the right kind, before anything is read or written."""
        if self.table == self.parquet:
            raise ParameterError(
                f"--out {self.table}: name a .csv file; a Parquet copy is written beside it"
            )
        require_writable_file(self.table, "--out")
        require_writable_file(self.parquet, "--out's Parquet copy")
        require_writable_dir(self.validation_dir, "--out's validation folder")
        require_writable_file(self.drift, "--out's drift report")
        return self


@dataclass(frozen=True)
class ScoringSummary:
    model_uri: str
    rows_in: int
    rows_scored: int
    rows_quarantined: int
    output_path: Path
    drift_verdict: str = "none"
    drift_summary: str = ""
    drift_path: Path | None = None


@flow(name="scoring", log_prints=True)
def scoring(data_path: Path, output_path: Path, model_uri: str | None = None) -> ScoringSummary:
    """Validate `data_path` with the same contract; write customer -> segment to `output_path`.

    Writes `ScoringOutputs.for_path(output_path)`: the CSV, a Parquet copy and the validation
    folder (quarantined rows with their reasons). Reads the model from the store of the working
    folder (or MLFLOW_TRACKING_URI); a missing store is an error, never created empty.
    """
    settings = load_settings()
    outputs = ScoringOutputs.for_path(output_path).check()
    require_input_file(Path(data_path), "--data file")
    require_existing_store(settings)
    model_uri = model_uri or f"models:/{settings.registered_model_name}@champion"
    # Steps that do not need each other's results overlap (2 cores: the model loads while the
    # batch is validated, files are written while the next step computes).
    loading = load_model.submit(settings.tracking_uri, model_uri)
    ingest = validate_data(Path(data_path))
    writing_validation = write_validation.submit(ingest, outputs.validation_dir)
    if not ingest.summary.rows_clean:
        # Rejected rows are written with their reasons first: nothing is lost, even when all are.
        require_clean_rows(ingest, writing_validation.result()["quarantine"])
    # Typed, contract-checked rows: the raw model in chunks (tasks/mlops/batch_scoring.py).
    model = loading.result()
    table = score_in_chunks(model, ingest.clean)
    writing_table = write_scores.submit(table, outputs.table)
    print(
        f"scored {len(table):,} customers with {model_uri}; "
        f"{ingest.summary.rows_quarantined:,} quarantined"
    )
    experiment_id = configure_tracking(
        settings.tracking_uri, f"{settings.experiment_name}-scoring", settings.artifact_location
    )
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"scoring-{flow_run.name or 'local'}",
        tags={TAG_FLOW_RUN: str(flow_run.id or ""), TAG_DATA_SHA: ingest.summary.sha256},
    ) as run:
        mlflow.log_params({"model_uri": model_uri, "data_path": str(Path(data_path).resolve())})
        mlflow.log_metrics(
            {"rows_scored": len(table), "rows_quarantined": ingest.summary.rows_quarantined}
        )
        drift = check_batch_drift(
            model.get_raw_model(),
            ingest.clean,
            Path(data_path),
            settings.drift,
            settings.tracking_uri,
            run.info.run_id,
            "scoring",
            scored=table,
        )
    drift_path = write_drift_json(drift, Path(data_path), outputs.drift)
    writing_validation.result()  # a failure to write is the run's failure too
    return ScoringSummary(
        model_uri,
        ingest.summary.rows_in,
        len(table),
        ingest.summary.rows_quarantined,
        writing_table.result(),
        drift.verdict,
        drift.summary_line(),
        drift_path,
    )
