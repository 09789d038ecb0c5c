"""The report's "since the last run" section: this run among the last ones, and their shares.

Read after the run's decision is on its parent run, so the history includes this run. The
shares figure is logged on the parent run too (`history/segment_shares_history.png`), so the
MLflow UI shows it without opening the report.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlflow import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.mlops.history import RunRecord, read_history
from tasks.report.history import runs_table
from tasks.report.history_figure import FIGURE_ARTIFACT_DIR, HISTORY_FIGURE, shares_figure
from tasks.retries import retry_unless_user_error

RUNS_IN_REPORT = 6


@dataclass(frozen=True)
class SinceLastRun:
    """What the report says about the runs before this one."""

    sentence: str
    runs: list[dict[str, str]] = field(default_factory=list)  # the history table's rows
    figure: bytes | None = None


def compare_with_previous(runs: list[RunRecord]) -> str:
    """One sentence: the run before the last one in `runs`, and how the shares moved."""
    if not runs:
        return "No run is recorded in this experiment."
    current, earlier = runs[-1], [r for r in runs[:-1] if r.shares]
    if not earlier:
        return "This is the first run of this experiment with segments: nothing to compare yet."
    previous = earlier[-1]
    same_data = previous.digest is not None and previous.digest == current.digest
    moves = [
        f"{name} {100 * previous.shares[name]:.1f}% → {100 * share:.1f}%"
        for name, share in current.shares.items()
        if name in previous.shares
    ]
    new = [name for name in current.shares if name not in previous.shares]
    gone = [name for name in previous.shares if name not in current.shares]
    parts = [
        f"The previous run with segments started {previous.started[:16].replace('T', ' ')} UTC "
        f"on {'the same data' if same_data else f'other data ({previous.data_name})'} "
        f"and chose {previous.algorithm} with k = {previous.k} ({previous.outcome})."
    ]
    if moves:
        parts.append("Shares of the names both runs have: " + "; ".join(moves) + ".")
    if new:
        parts.append("New names: " + ", ".join(new) + ".")
    if gone:
        parts.append("Names no longer found: " + ", ".join(gone) + ".")
    return " ".join(parts)


@task(
    name="since-last-run",
    cache_policy=NO_CACHE,
    retries=2,
    retry_condition_fn=retry_unless_user_error,
)
def since_last_run(tracking_uri: str, experiment_name: str, run_id: str) -> SinceLastRun:
    """The last runs up to this one, and their shares figure, also logged on `run_id`."""
    records = read_history(tracking_uri, experiment_name).records
    upto = next((i for i, r in enumerate(records) if r.run_id == run_id), len(records) - 1)
    runs = records[max(0, upto + 1 - RUNS_IN_REPORT) : upto + 1]
    figure = shares_figure(runs)
    if figure is not None:
        with tempfile.TemporaryDirectory(prefix="ccseg-history-figure-") as folder:
            path = Path(folder) / f"{HISTORY_FIGURE}.png"
            path.write_bytes(figure)
            MlflowClient(tracking_uri).log_artifact(run_id, str(path), FIGURE_ARTIFACT_DIR)
    table = runs_table(runs).astype(str).to_dict(orient="records") if runs else []
    return SinceLastRun(compare_with_previous(runs), table, figure)
