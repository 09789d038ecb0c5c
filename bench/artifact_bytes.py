"""Benchmark: artifact bytes one segmentation run leaves in the MLflow store (issue 8).

Counts, per flow (parent) run: its own artifacts (report, validation, grid tables, segments),
its grid cell (child) runs' artifacts, and every model those runs logged. Bytes do not depend on
machine load. Either measures an existing store, or runs `ccseg run` into a fresh work folder
first (the real data when present: about two minutes).

    python -m bench.artifact_bytes --work-dir /tmp/ccseg-bytes          # run, then measure
    python -m bench.artifact_bytes --work-dir DIR --no-run              # measure DIR's store
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def measure(work_dir: Path) -> list[tuple[str, str, int]]:
    """(parent run id, chosen cell, bytes) for every flow run in `work_dir`'s store."""
    from mlflow import MlflowClient

    from core.settings import PipelineSettings
    from tasks.mlops.retention import parent_runs, run_family_bytes

    settings = PipelineSettings(work_dir=work_dir, mlflow_tracking_uri=None)
    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is None:
        raise SystemExit(f"no experiment {settings.experiment_name!r} in {settings.tracking_uri}")
    return [
        (
            run.info.run_id,
            run.data.tags.get("chosen_cell", "?"),
            run_family_bytes(client, experiment.experiment_id, run),
        )
        for run in parent_runs(client, experiment.experiment_id)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--no-run", action="store_true", help="measure only, do not run first")
    args = parser.parse_args()
    if not args.no_run:
        env = {**os.environ, "CCSEG_WORK_DIR": str(args.work_dir)}
        env.pop("MLFLOW_TRACKING_URI", None)
        ccseg = Path(sys.executable).with_name("ccseg")
        subprocess.run([str(ccseg), "run"], env=env, check=True)
    for run_id, cell, size in measure(args.work_dir):
        print(f"{run_id}  {cell:40s}  {size:>12,} bytes  ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
