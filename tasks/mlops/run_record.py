"""What every parent run records for comparison: its data, its decision and its segments.

Under the same names on every run, so the MLflow UI's runs table, `mlflow.search_runs` and
`ccseg history` can put runs side by side:

- the input, with MLflow's dataset tracking: digest = the file's sha256 (cut to the 36
  characters MLflow stores; the full hash is an input tag and the run tag `data.sha256`),
  source = the file, rows in/clean/quarantined as input tags;
- the decision as `ccseg.decision.*` tags (cell, algorithm, feature set, k) beside the chosen
  model's metrics `log_selection` already logs, and the promotion as `ccseg.promotion.*` tags;
- the segment shares by name: one `segment_share.<name>` metric each, and all of them as one
  JSON tag (names may hold characters metric keys refuse; tags survive `ccseg gc`);
- the customers' segment names as a small gzipped CSV under `history/`, which `ccseg gc` keeps,
  so later runs can say who moved;
- the chosen model as an output of the parent run, and the parent run on the registered version.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.data
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.data.dataset_source_registry import get_dataset_source_from_json
from mlflow.entities import LoggedModelOutput, Metric
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.types import ColSpec, Schema
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.columns import CUST_ID
from tasks.data.ingest import ValidationSummary
from tasks.mlops.registry import CHALLENGER, Promotion
from tasks.mlops.tracking import clean_metrics
from tasks.retries import retry_unless_user_error
from tasks.segmentation.grid import GridCell

# The tag MLflow's UI reads to open an experiment on its runs rather than on GenAI traces.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_DEVELOPMENT = "custom_model_development"
DATASET_CONTEXT = "training"
MAX_DIGEST = 36  # MLflow's datasets.digest column
DECISION = "ccseg.decision"
PROMOTION = "ccseg.promotion"
SHARES_TAG = "ccseg.segment_shares"
SHARE_METRIC = "segment_share"
VERSION_PARENT_RUN_TAG = "ccseg.parent_run_id"
HISTORY_DIR = "history"  # kept by `ccseg gc`: what `ccseg history` needs of an old run
# Parquet: gzipped CSV took minutes at 10M customers. Runs recorded before read as LEGACY.
ASSIGNMENTS_FILE = "assignments.parquet"
ASSIGNMENTS_PATH = f"{HISTORY_DIR}/{ASSIGNMENTS_FILE}"
LEGACY_ASSIGNMENTS_PATH = f"{HISTORY_DIR}/assignments.csv.gz"
SEGMENT_NAME = "segment_name"
_REFUSED_IN_METRIC_KEY = re.compile(r"[^0-9A-Za-z_\-. /]")

# Outcomes, as `ccseg history` and the runs table show them.
PROMOTED, CHALLENGER_OUTCOME, UNCHANGED = "promoted", "challenger", "unchanged"


@dataclass(frozen=True)
class Decision:
    """What a run chose and what the registry made of it, in the parent run's names."""

    cell: GridCell
    n_segments: int
    promotion: Promotion
    assignments: pd.Series  # CUST_ID (index) -> segment name

    @property
    def outcome(self) -> str:
        return promotion_outcome(self.promotion)

    @property
    def champion_version(self) -> str | None:
        """The champion after this run: the new version if it was promoted, else the old one."""
        if self.outcome == PROMOTED:
            return self.promotion.version
        return self.promotion.previous_champion_version

    def shares(self) -> dict[str, float]:
        """Share of the run's customers in each named segment, largest first."""
        counts = self.assignments.value_counts(normalize=True, sort=True)
        return {str(name): float(share) for name, share in counts.items()}


def promotion_outcome(promotion: Promotion) -> str:
    """promoted (the new version is champion), challenger, or unchanged (nothing registered)."""
    if promotion.alias is None:
        return UNCHANGED
    return CHALLENGER_OUTCOME if promotion.alias == CHALLENGER else PROMOTED


def data_digest(sha256: str) -> str:
    """The dataset digest MLflow can store: the file's sha256, cut to 36 hex characters."""
    return sha256[:MAX_DIGEST]


def assignments_by_name(
    clean: pd.DataFrame, labels: np.ndarray, names: Mapping[int, str]
) -> pd.Series:
    """Each customer's segment name, indexed by CUST_ID, from the chosen fit's labels."""
    codes = np.asarray(labels, dtype=np.int64)
    return pd.Series(
        [names[int(code)] for code in codes],
        index=pd.Index(clean[CUST_ID].astype(str).to_numpy(), name=CUST_ID),
        name=SEGMENT_NAME,
    )


def mark_model_development(tracking_uri: str, experiment_id: str) -> None:
    """Tag the experiment as model training, so the MLflow UI opens it on its runs."""
    MlflowClient(tracking_uri).set_experiment_tag(
        experiment_id, EXPERIMENT_KIND_TAG, MODEL_DEVELOPMENT
    )


# MLflow infers a dataset's schema with a Python-level check of every value (10 s per million
# rows): the types come from the first rows, whether a column is required from a vectorised check.
SCHEMA_HEAD_ROWS = 1_000


def dataset_schema(clean: pd.DataFrame) -> Schema:
    """The schema MLflow would infer for `clean`, in time that does not grow with its rows."""
    head = infer_signature(clean.head(SCHEMA_HEAD_ROWS)).inputs
    return Schema(
        [
            ColSpec(spec.type, spec.name, required=bool(clean[spec.name].notna().all()))
            for spec in head.inputs
        ]
    )


def log_data_input(summary: ValidationSummary, source: Path, clean: pd.DataFrame) -> None:
    """Log the active run's input as an MLflow dataset (the runs table's Dataset column)."""
    # Built from its JSON form: resolving a bare path warns that two registered local sources
    # match (MLflow registers the local artifact scheme twice); both are the same "local" type.
    local = get_dataset_source_from_json(json.dumps({"uri": str(Path(source).resolve())}), "local")
    tags = {
        "sha256": summary.sha256,
        "rows_in": str(summary.rows_in),
        "rows_clean": str(summary.rows_clean),
        "rows_quarantined": str(summary.rows_quarantined),
    }
    with warnings.catch_warnings():
        # The schema is a description here, not a contract a model enforces: MLflow's hint
        # about integer columns and missing values does not apply (the signature does that).
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        dataset = mlflow.data.from_pandas(
            clean, source=local, name=Path(source).name, digest=data_digest(summary.sha256)
        )
        dataset.__dict__["schema"] = dataset_schema(clean)  # PandasDataset.schema: cached_property
        mlflow.log_input(dataset, context=DATASET_CONTEXT, tags=tags)


def share_metric_key(name: str) -> str:
    """`segment_share.<name>` with what MLflow refuses in a metric key made an underscore."""
    return f"{SHARE_METRIC}.{_REFUSED_IN_METRIC_KEY.sub('_', name)}"


def decision_tags(decision: Decision) -> dict[str, str]:
    """The parent run's decision and promotion tags; an absent version is an empty string."""
    promotion = decision.promotion

    def text(version: object) -> str:  # MLflow hands versions out as int or str
        return "" if version is None else str(version)

    return {
        f"{DECISION}.cell": decision.cell.cell_id,
        f"{DECISION}.algorithm": decision.cell.algorithm,
        f"{DECISION}.feature_set": decision.cell.feature_set,
        f"{DECISION}.k": str(decision.n_segments),
        f"{PROMOTION}.outcome": decision.outcome,
        f"{PROMOTION}.alias": promotion.alias or "",
        f"{PROMOTION}.version": text(promotion.version),
        f"{PROMOTION}.previous_champion_version": text(promotion.previous_champion_version),
        f"{PROMOTION}.champion_version": text(decision.champion_version),
        f"{PROMOTION}.model_name": promotion.model_name,
        f"{PROMOTION}.reason": promotion.reason,
        SHARES_TAG: json.dumps(decision.shares(), ensure_ascii=False),
    }


@task(
    name="record-decision",
    cache_policy=NO_CACHE,
    retries=2,
    retry_condition_fn=retry_unless_user_error,
)
def record_decision(tracking_uri: str, run_id: str, decision: Decision) -> None:
    """`log_decision`, retried (every write in it can be repeated)."""
    log_decision(tracking_uri, run_id, decision)


def log_decision(tracking_uri: str, run_id: str, decision: Decision) -> None:
    """Record `decision` on the parent run `run_id` and link it with the model it chose."""
    client = MlflowClient(tracking_uri)
    for key, value in decision_tags(decision).items():
        client.set_tag(run_id, key, value)
    shares = {share_metric_key(name): share for name, share in decision.shares().items()}
    metrics = clean_metrics(shares)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, _now_ms(), 0) for k, v in metrics.items()],
    )
    _log_assignments(client, run_id, decision.assignments)
    _link_model(client, run_id, decision)


def _now_ms() -> int:
    return int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)


def _log_assignments(client: MlflowClient, run_id: str, assignments: pd.Series) -> None:
    with tempfile.TemporaryDirectory(prefix="ccseg-history-") as folder:
        path = Path(folder) / ASSIGNMENTS_FILE
        assignments.reset_index().to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), HISTORY_DIR)


def _link_model(client: MlflowClient, run_id: str, decision: Decision) -> None:
    """Show the chosen model on the parent run; tag its version with the parent run.

    The version's own `run_id` stays the chosen cell's run, where the model was logged. When
    nothing was registered (the same model again), the link goes to the champion it matched.
    """
    promotion = decision.promotion
    version = promotion.version or decision.champion_version
    if version is None:
        return
    try:
        registered = client.get_model_version(promotion.model_name, version)
    except MlflowException:
        return  # the version is gone (deleted by hand): nothing to link
    client.set_tag(run_id, f"{PROMOTION}.model_uri", f"models:/{promotion.model_name}/{version}")
    source = str(registered.source)
    if source.startswith("models:/m-"):
        client.set_tag(run_id, f"{PROMOTION}.logged_model_id", source.removeprefix("models:/"))
        client.log_outputs(run_id, [LoggedModelOutput(source.removeprefix("models:/"), step=0)])
    if promotion.version is not None:
        client.set_model_version_tag(
            promotion.model_name, promotion.version, VERSION_PARENT_RUN_TAG, run_id
        )
