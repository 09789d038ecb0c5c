"""What `ccseg run` prints at the end: the outcome, where every file is, how to look at the runs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SYNTHETIC_MARK = "SYNTHETIC DATA"


def mlflow_ui_command(tracking_uri: str) -> str:
    """The command (or address) that shows this store's runs and registry."""
    if urlsplit(tracking_uri).scheme in {"http", "https"}:
        return f"open {tracking_uri} (the tracking server serves the UI)"
    beside_python = Path(sys.executable).with_name("mlflow")
    mlflow = str(beside_python) if beside_python.exists() else (shutil.which("mlflow") or "mlflow")
    return f"{mlflow} ui --backend-store-uri {tracking_uri} --port 5000"


def compare_runs_hint(is_synthetic: bool) -> str:
    """Where to put this run beside the earlier ones (MLflow 3.17's UI starts on GenAI views)."""
    command = "ccseg history --synthetic" if is_synthetic else "ccseg history"
    return f"compare runs: {command}; in the MLflow UI choose 'Model training' (top left)"


def run_summary(summary: Any) -> str:
    """Lines for a finished run; a synthetic run says so on its first and its every line."""
    prefix = f"[{SYNTHETIC_MARK}] " if summary.is_synthetic else ""
    lines = [
        f"chosen {summary.chosen_cell_id}: {summary.n_segments} segments over "
        f"{summary.rows_clean:,} customers ({summary.rows_quarantined:,} quarantined)",
        f"registry: {summary.promotion.reason}",
        f"segments: {summary.segments_path}",
    ]
    if summary.report_path:
        lines.append(f"report: {summary.report_path}")
    if summary.work_dir is not None:
        lines.append(f"working folder: {Path(summary.work_dir).resolve()}")
    if summary.tracking_uri:
        lines.append(f"MLflow store: {summary.tracking_uri}")
        lines.append(f"MLflow UI: {mlflow_ui_command(summary.tracking_uri)}")
        lines.append(compare_runs_hint(summary.is_synthetic))
    if summary.is_synthetic:
        lines.insert(
            0,
            "this run segmented generated customers, not real ones: its results live apart "
            f"(in {Path(summary.work_dir).resolve()}) and never meet the real champion",
        )
    return "\n".join(prefix + line for line in lines)
