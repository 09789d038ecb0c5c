"""Times the drift check (`tasks/drift/check.py`) against scoring the same batch.

Run: `.venv/bin/python -m bench.drift_check [--rows N] [--repeats R]`. A k-means champion is fitted
on 8,950 synthetic customers (the real file's size); the batch is N synthetic customers. Prints a
markdown table of the median of R runs: `model.predict` alone (the baseline every scoring run
pays) and `check_drift`, which describes the batch and predicts it again.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

from core.settings import DriftSettings
from tasks.data.synthetic import generate_synthetic
from tasks.drift.check import check_drift
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import GridCell
from tasks.segmentation.packaging import package_model

TRAINING_ROWS = 8_950


def _median_seconds(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run(rows: int, repeats: int) -> list[tuple[str, float]]:
    training = generate_synthetic(TRAINING_ROWS, 0)[0]
    cell = GridCell("behavioural", "kmeans", 4, 0, (("max_iter", 300), ("n_init", 4)))
    result = fit_cell(cell, training, stability_resamples=10, silhouette_sample_size=2_000)
    names = {i: f"Segment {i}" for i in range(4)}
    model = package_model(result, training, names, {str(i): {"name": n} for i, n in names.items()})
    batch = generate_synthetic(rows, 1)[0]
    settings = DriftSettings()
    return [
        ("predict (baseline)", _median_seconds(lambda: model.predict(batch), repeats)),
        ("check_drift", _median_seconds(lambda: check_drift(model, batch, settings), repeats)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    timings = run(args.rows, args.repeats)
    print(
        f"{args.rows:,} rows, median of {args.repeats}, {platform.processor() or 'cpu'}, "
        f"{os.cpu_count()} cores"
    )
    print("| step | seconds |\n|---|---:|")
    for name, seconds in timings:
        print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
