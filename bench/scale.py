"""Benchmark: `ccseg run` end to end at 10k, 100k, 1M and 10M customers, and `ccseg score`.

For each size: a synthetic Parquet file with planted segments (written once, seed 0), then
`--runs` runs of `ccseg run --data FILE` with the default grid, each in a fresh working folder and
a fresh process (imports and the ephemeral Prefect server included). Reported per size (median
over runs): wall time; peak RSS of the whole process tree (sampled every 0.2 s); the share of
time in start-up, validation, features, grid, selection (finalists), scoring (assigning every
customer, naming, packaging) and publishing (registry + report), read from Prefect's task-run
log timestamps; the growth exponent log(t2/t1)/log(n2/n1) between consecutive sizes; the ARI
between the chosen segments and the planted ones. Then `ccseg score` on the largest file with the
champion just trained: rows per second and peak RSS.

    python -m bench.scale                                  # 10k 100k 1M 10M, 3 runs each
    python -m bench.scale --sizes 10000 --runs 1           # a quick proof that it works
    python -m bench.scale --sizes 1000000 --runs 3 --json bench/results/scale-1m.json

Contention changes wall times, not rows, memory or ARI: run timings on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
CCSEG = [str(Path(sys.executable).with_name("ccseg"))]
LOG_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+) \| \w+ +\| (Task|Flow) run '([^']+)' - (.*)$")
# Phase -> the task whose last "Finished" ends it (in flow order); publishing ends with the flow.
PHASE_ENDS = (
    ("validation", "validate-data"),
    ("features", "engineer-features"),
    ("grid", "cell "),
    ("selection", "finalist "),
    ("scoring", "package-segment-model"),
)
PHASES = ("startup", *(p for p, _ in PHASE_ENDS), "publishing")


def write_data(rows: int, folder: Path) -> tuple[Path, Path]:
    """The synthetic customers as Parquet, and their planted segments (written once per size)."""
    from tasks.data.synthetic import generate_synthetic

    data, labels = folder / f"synthetic_{rows}.parquet", folder / f"synthetic_{rows}.labels.parquet"
    if not data.exists():
        clean, planted = generate_synthetic(rows, seed=0)
        clean.to_parquet(data, index=False)
        planted.rename("planted").to_frame().assign(CUST_ID=clean["CUST_ID"].to_numpy()).to_parquet(
            labels, index=False
        )
    return data, labels


class PeakTreeRss:
    """Peak resident memory of a process and all its descendants, sampled every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.root, self.interval, self.peak = psutil.Process(pid), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                total = 0
                for process in tree:
                    with contextlib.suppress(psutil.Error):  # it may end between list and read
                        total += process.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, int, str, datetime]:
    """(wall seconds, peak tree RSS bytes, combined output, start time) of one command."""
    started_at, started = datetime.now(), time.perf_counter()
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    monitor = PeakTreeRss(process.pid)
    output, _ = process.communicate()
    seconds, peak = time.perf_counter() - started, monitor.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{output[-3000:]}")
    return seconds, peak, output, started_at


def phase_seconds(output: str, started_at: datetime, wall: float) -> dict[str, float]:
    """Seconds per phase from the log's task-run timestamps (see PHASE_ENDS)."""
    day = started_at.date()
    finished: dict[str, float] = {}
    first = None
    for line in output.splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        stamp = datetime.combine(day, datetime.strptime(match[1], "%H:%M:%S.%f").time())
        offset = (stamp - started_at).total_seconds()
        first = offset if first is None else first
        if match[4].startswith("Finished"):
            for _, task in PHASE_ENDS:
                if match[3].startswith(task):
                    finished[task] = offset
    ends = [0.0, first or 0.0]
    for _, task in PHASE_ENDS:
        ends.append(finished.get(task, ends[-1]))
    ends.append(wall)
    return {name: max(0.0, ends[i + 1] - ends[i]) for i, name in enumerate(PHASES)}


def planted_ari(work: Path, labels: Path) -> float:
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    found = pd.read_parquet(work / "outputs" / "segments.parquet", columns=["CUST_ID", "segment"])
    planted = pd.read_parquet(labels)
    both = found.merge(planted, on="CUST_ID")
    return float(adjusted_rand_score(both["planted"], both["segment"]))


def one_run(data: Path, labels: Path, work: Path) -> dict[str, object]:
    env = os.environ | {
        "CCSEG_WORK_DIR": str(work),
        "PREFECT_HOME": str(work / ".prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    wall, peak, output, started_at = run_measured([*CCSEG, "run", "--data", str(data)], env)
    return {
        "wall_seconds": wall,
        "peak_rss_bytes": peak,
        "phases": phase_seconds(output, started_at, wall),
        "planted_ari": planted_ari(work, labels),
        "chosen": next((ln for ln in output.splitlines() if ln.startswith("chosen ")), ""),
    }


def score_run(data: Path, work: Path, rows: int) -> dict[str, float]:
    env = os.environ | {"CCSEG_WORK_DIR": str(work), "PREFECT_HOME": str(work / ".prefect")}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = work / "scored.csv"
    command = [*CCSEG, "score", "--data", str(data), "--out", str(out)]
    wall, peak, output, started_at = run_measured(command, env)
    flow = flow_seconds(output, started_at)
    return {
        "rows": rows,
        "wall_seconds": wall,
        "rows_per_second": rows / wall,
        "peak_rss_bytes": peak,
        # The scoring flow alone (from "Beginning flow run" to its end): without the imports,
        # the preflight and the start of the temporary Prefect server.
        "flow_seconds": flow,
        "flow_rows_per_second": rows / flow if flow else float("nan"),
    }


def score_runs(data: Path, work: Path, rows: int, runs: int) -> dict[str, object]:
    """`score_run` `runs` times; the median run's figures, and every run's."""
    every = []
    for number in range(runs):
        every.append(score_run(data, work, rows))
        print(f"score {rows:,} rows, run {number + 1}: {json.dumps(every[-1])}", flush=True)
    median = sorted(every, key=lambda run: run["wall_seconds"])[len(every) // 2]
    return median | {
        "runs": len(every),
        "wall_seconds_all": [run["wall_seconds"] for run in every],
        "peak_rss_bytes_max": max(run["peak_rss_bytes"] for run in every),
    }


def flow_seconds(output: str, started_at: datetime) -> float:
    """Seconds from the flow's first log line of its own to its last 'Finished in state'."""
    day = started_at.date()
    stamps = []
    for line in output.splitlines():
        match = LOG_LINE.match(line)
        if (
            match
            and match[2] == "Flow"
            and (
                match[4].startswith("Beginning flow run")
                or match[4].startswith("Finished in state")
            )
        ):
            stamps.append(datetime.combine(day, datetime.strptime(match[1], "%H:%M:%S.%f").time()))
    return (stamps[-1] - stamps[0]).total_seconds() if len(stamps) >= 2 else 0.0


def summarise(size: int, runs: list[dict[str, object]]) -> dict[str, object]:
    walls = [float(r["wall_seconds"]) for r in runs]
    phases = {p: statistics.median(float(r["phases"][p]) for r in runs) for p in PHASES}  # type: ignore[index]
    total = sum(phases.values()) or 1.0
    return {
        "rows": size,
        "runs": len(runs),
        "wall_seconds_median": statistics.median(walls),
        "wall_seconds_all": walls,
        "peak_rss_bytes_max": max(int(r["peak_rss_bytes"]) for r in runs),  # type: ignore[call-overload]
        "phase_share": {p: phases[p] / total for p in PHASES},
        "planted_ari": [float(r["planted_ari"]) for r in runs],  # type: ignore[arg-type]
        "chosen": sorted({str(r["chosen"]) for r in runs}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 10_000_000]
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the synthetic files here")
    parser.add_argument(
        "--score-runs",
        type=int,
        default=3,
        help="`ccseg score` runs on the largest file, with its first run's champion (0: none)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ccseg-scale-data-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, object]] = []
    score: dict[str, object] | None = None
    for size in sorted(args.sizes):
        data, labels = write_data(size, data_dir)
        runs = []
        for number in range(args.runs):
            with tempfile.TemporaryDirectory(prefix=f"ccseg-scale-{size}-") as folder:
                work = Path(folder)
                runs.append(one_run(data, labels, work))
                print(f"{size:>10,} rows, run {number + 1}: {json.dumps(runs[-1])}", flush=True)
                if size == max(args.sizes) and number == 0 and args.score_runs:
                    score = score_runs(data, work, size, args.score_runs)
        results.append(summarise(size, runs))
    for previous, current in itertools.pairwise(results):
        current["growth_exponent"] = math.log(
            float(current["wall_seconds_median"]) / float(previous["wall_seconds_median"])
        ) / math.log(int(current["rows"]) / int(previous["rows"]))  # type: ignore[call-overload]
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total,
            "load_average_at_end": os.getloadavg(),
            "python": sys.version.split()[0],
        },
        "sizes": results,
        "score": score,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
