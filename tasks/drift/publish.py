"""Where a drift verdict goes: MLflow, a Prefect table and figure, the `ccseg.drift.detected`
event, and the `<OUT stem>.drift.json` file beside a scoring output.

The event carries the verdict and the source as resource labels, because a Prefect trigger can
match labels but not payload values: the `retrain-on-drift` deployment matches
`ccseg.drift.verdict: drift` and `ccseg.drift.source: scoring`. A segmentation run emits its own
check with source `segmentation`, so a retraining run never triggers another.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from PIL import Image
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from core.settings import DriftSettings
from tasks.drift.check import VERDICTS, DriftResult, check_drift
from tasks.mlops.champion import loadable_champion
from tasks.mlops.tracking import point_mlflow_at
from tasks.model.segment_model import SegmentModel

DRIFT_EVENT = "ccseg.drift.detected"
VERDICT_LABEL = "ccseg.drift.verdict"
SOURCE_LABEL = "ccseg.drift.source"
ARTIFACT_KEY = "ccseg-drift"
FIGURE_NAME = "drift/drift.png"
JSON_NAME = "drift/drift.json"


def drift_json_path(output_path: Path) -> Path:
    """`<OUT stem>.drift.json` beside the scoring output."""
    return Path(output_path).with_name(f"{Path(output_path).stem}.drift.json")


def write_drift_json(result: DriftResult, batch_path: Path, target: Path) -> Path:
    document = {**result.as_dict(), "path": str(Path(batch_path).resolve())}
    target.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    return target


def feature_table(result: DriftResult) -> list[dict[str, object]]:
    """One row per input column, most moved first: what the Prefect table shows."""
    rows = [
        {
            "column": column,
            "score": f["score"],
            "status": f["status"],
            "reference median": f["reference_median"],
            "batch median": f["batch_median"],
        }
        for column, f in result.features.items()
    ]
    return sorted(rows, key=lambda r: -(r["score"] or 0.0))


def drift_figure(result: DriftResult, settings: DriftSettings) -> bytes:
    """Bar chart of the feature scores against the warn and drift lines, as PNG bytes."""
    rows = [r for r in feature_table(result) if r["score"] is not None][::-1]
    colours = {"none": "#4c72b0", "warn": "#dd8452", "drift": "#c44e52"}
    # A bare Figure, not pyplot: no GUI backend or global state in a worker's threads.
    figure = Figure(figsize=(7, 0.3 * max(len(rows), 4) + 1.2))
    axis = figure.subplots()
    axis.barh(
        [r["column"] for r in rows],
        [min(r["score"], 3 * settings.feature_drift) for r in rows],
        color=[colours[r["status"]] for r in rows],
    )
    axis.axvline(settings.feature_warn, color=colours["warn"], linestyle="--", label="warn")
    axis.axvline(settings.feature_drift, color=colours["drift"], linestyle="--", label="drift")
    axis.set_xlabel("distribution shift (Wasserstein distance / reference sd)")
    axis.set_title(f"Drift verdict: {result.verdict} ({result.rows:,} rows)")
    axis.legend(loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def log_to_mlflow(tracking_uri: str, run_id: str, result: DriftResult, png: bytes | None) -> None:
    """Verdict as tag and metric (0 none, 1 warn, 2 drift), every score, the JSON, the figure."""
    client = MlflowClient(tracking_uri)
    client.set_tag(run_id, VERDICT_LABEL, result.verdict)
    metrics = {"drift.verdict_level": float(VERDICTS.index(result.verdict))}
    metrics |= {
        f"drift.feature.{column}": float(f["score"])
        for column, f in result.features.items()
        if f["score"] is not None and f["score"] != float("inf")
    }
    if result.segment_shares:
        metrics["drift.segment_shares_js"] = float(result.segment_shares["distance"])
    if result.far_from_centre.get("share") is not None:
        metrics["drift.far_from_centre_share"] = float(result.far_from_centre["share"])
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    client.log_dict(run_id, result.as_dict(), JSON_NAME)
    if png is not None:
        client.log_image(run_id, Image.open(io.BytesIO(png)), FIGURE_NAME)


def publish_artifacts(result: DriftResult, batch_path: Path, png: bytes | None) -> None:
    """The Prefect side: a table of the per-column scores and a markdown figure."""
    description = f"Drift of {Path(batch_path).name}: {result.summary_line()}"
    if result.features:
        create_table_artifact(
            table=feature_table(result), key=ARTIFACT_KEY, description=description
        )
    shares = "\n".join(
        f"| {i} | {s['name']} | {s['reference']:.1%} | {s['batch']:.1%} |"
        for i, s in result.segment_shares.get("segments", {}).items()
    )
    figure = f"![drift](data:image/png;base64,{base64.b64encode(png).decode()})\n\n" if png else ""
    markdown = f"# Drift: **{result.verdict}**\n\n{result.summary_line()}\n\n{figure}" + (
        "| segment | name | training share | batch share |\n|---|---|---|---|\n" + shares
        if shares
        else ""
    )
    create_markdown_artifact(
        markdown=markdown, key=f"{ARTIFACT_KEY}-figure", description=description
    )


def emit_drift_event(result: DriftResult, batch_path: Path, source: str) -> None:
    """`ccseg.drift.detected`, verdict and source as labels (what triggers can match)."""
    path = str(Path(batch_path).resolve())
    emit_event(
        event=DRIFT_EVENT,
        resource={
            "prefect.resource.id": f"ccseg.batch.{path}",
            VERDICT_LABEL: result.verdict,
            SOURCE_LABEL: source,
        },
        payload={
            "verdict": result.verdict,
            "path": path,
            "rows": result.rows,
            "checked": result.checked,
            "reasons": result.reasons,
            "features": {c: f["score"] for c, f in result.features.items()},
        },
    )


@task(name="check-drift", cache_policy=NO_CACHE)
def check_batch_drift(
    model: SegmentModel,
    batch: pd.DataFrame,
    batch_path: Path,
    settings: DriftSettings,
    tracking_uri: str,
    run_id: str,
    source: str,
    scored: pd.DataFrame | None = None,
) -> DriftResult:
    """Check `batch` against the model's reference and publish the verdict everywhere
    (`scored`: the model's output for `batch`, when the caller has it)."""
    result = check_drift(model, batch, settings, scored)
    png = drift_figure(result, settings) if result.features else None
    log_to_mlflow(tracking_uri, run_id, result, png)
    publish_artifacts(result, batch_path, png)
    emit_drift_event(result, batch_path, source)
    print(result.summary_line())
    return result


@task(name="check-drift-against-champion", cache_policy=NO_CACHE)
def check_drift_against_champion(
    model_name: str,
    batch: pd.DataFrame,
    batch_path: Path,
    settings: DriftSettings,
    tracking_uri: str,
    run_id: str,
) -> DriftResult | None:
    """At the start of a segmentation run: how far the data is from the current champion's.

    None when there is no champion (or one in an older format) to compare with. Emitted with
    source `segmentation`: a retraining run reports its drift but never triggers another.
    """
    point_mlflow_at(tracking_uri)
    model = loadable_champion(model_name, "checked for drift")
    if model is None:
        print("drift: no champion to compare with")
        return None
    return check_batch_drift.fn(
        model, batch, batch_path, settings, tracking_uri, run_id, "segmentation"
    )
