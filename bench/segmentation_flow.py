"""Benchmark: the segmentation flow on the real data with the default grid, and its overhead.

Three timings, interleaved in one process so machine load hits them alike:
- `loop_serial`: the same grid as a plain Python loop (ingest + `fit_cell` per cell, then the
  shortlist and its finalists' re-measurement), no Prefect, no MLflow: the baseline the issue
  names;
- `loop_threads`: the same loop on a 2-thread pool, the flow's own parallelism without Prefect;
- `flow`: `segmentation()` in-process against the ephemeral Prefect API, logging to a fresh MLflow
  sqlite store each run (so every run registers a first champion).
Plus `cli`: `ccseg run` as a user runs it (new process: imports and ephemeral server start-up
included), once per run. Reported: median of --runs, and flow / loop ratios.

    python -m bench.segmentation_flow --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _loop(data: Path, threads: int) -> float:
    from tasks.data.ingest import read_and_validate
    from tasks.mlops.cell_runs import CellOutcome, grid_table
    from tasks.segmentation.finalists import evaluate_finalist
    from tasks.segmentation.fit import fit_cell
    from tasks.segmentation.grid import default_grid, expand_grid
    from tasks.segmentation.selection import shortlist

    started = time.perf_counter()
    clean = read_and_validate(data).clean
    grid = default_grid()

    def fit(cell):
        return fit_cell(
            cell,
            clean,
            stability_resamples=grid.stability_resamples,
            silhouette_sample_size=grid.silhouette_sample_size,
        )

    def remeasure(result):
        return evaluate_finalist(
            result.cell, clean, result.labels, grid.finalists, grid.silhouette_sample_size
        )

    cells = expand_grid(grid)
    with ThreadPoolExecutor(threads) as pool:
        results = list(map(fit, cells)) if threads == 1 else list(pool.map(fit, cells))
        by_id = {r.cell.cell_id: r for r in results}
        table = grid_table([CellOutcome(r, "", "") for r in results])
        ids, _ = shortlist(table, {i: r.labels for i, r in by_id.items()}, grid.finalists.count)
        finalists = [by_id[i] for i in ids]
        list(map(remeasure, finalists)) if threads == 1 else list(pool.map(remeasure, finalists))
    return time.perf_counter() - started


def _flow(data: Path) -> float:
    from flows.segmentation import segmentation

    with tempfile.TemporaryDirectory(prefix="ccseg-bench-") as work:
        os.environ["CCSEG_WORK_DIR"] = work
        started = time.perf_counter()
        segmentation(data_path=data)
        return time.perf_counter() - started


def _cli(data: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="ccseg-bench-cli-") as work:
        env = os.environ | {"CCSEG_WORK_DIR": work, "PREFECT_HOME": f"{work}/.prefect"}
        started = time.perf_counter()
        subprocess.run(
            [str(REPO_ROOT / ".venv/bin/ccseg"), "run", "--data", str(data)],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(
            os.environ.get("CCSEG_DATA_PATH", REPO_ROOT / "../shared/data/cc_general.csv")
        ),
    )
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        sys.exit(f"real data not found at {args.data} (set CCSEG_DATA_PATH)")
    from ccseg.runtime import apply_prefect_defaults

    apply_prefect_defaults()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    timings: dict[str, list[float]] = {"loop_serial": [], "loop_threads": [], "flow": [], "cli": []}
    _flow(args.data)  # warm-up: starts the ephemeral API once, as a long-lived process would
    for run in range(args.runs):
        timings["loop_serial"].append(_loop(args.data, threads=1))
        timings["loop_threads"].append(_loop(args.data, threads=2))
        timings["flow"].append(_flow(args.data))
        if not args.skip_cli:
            timings["cli"].append(_cli(args.data))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in timings.items() if v))
    median = {k: statistics.median(v) for k, v in timings.items() if v}
    print(f"\n| measure ({args.runs} runs, median) | seconds |\n|---|---:|")
    for name, value in median.items():
        print(f"| {name} | {value:.1f} |")
    print(f"| flow / loop_serial | {median['flow'] / median['loop_serial']:.2f} |")
    print(f"| flow / loop_threads | {median['flow'] / median['loop_threads']:.2f} |")


if __name__ == "__main__":
    main()
