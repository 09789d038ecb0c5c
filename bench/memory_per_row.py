"""Peak memory per row of synthetic generation and of validation: the bounds behind `--rows`.

Run: `.venv/bin/python -m bench.memory_per_row [--rows N]`. Each step runs in a fresh process at
N/4 and N rows; the figure is the growth of the process's peak resident memory between the two
sizes, per added row, so interpreter and library start-up cancel out. Memory, unlike time, does
not depend on a busy machine. `tasks/data/synthetic.py` (GENERATION_BYTES_PER_ROW) and
`tasks/data/source.py` (VALIDATION_BYTES_PER_ROW) round these figures up.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

_GENERATE = """
import resource, sys
from tasks.data.synthetic import write_synthetic
write_synthetic(int(sys.argv[1]), 0, sys.argv[2], sys.argv[2] + ".labels")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_VALIDATE = """
import resource, sys
from tasks.data.ingest import read_and_validate
read_and_validate(sys.argv[2])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(script: str, rows: int, path: Path) -> int:
    finished = subprocess.run(
        [sys.executable, "-c", script, str(rows), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(finished.stdout.split()[-1])


def bytes_per_row(rows: int) -> dict[str, float]:
    """Marginal peak bytes per row for each step, between rows // 4 and rows."""
    small = rows // 4
    figures = {}
    with tempfile.TemporaryDirectory(prefix="ccseg-bench-") as folder:
        files = {n: Path(folder) / f"s{n}.csv" for n in (small, rows)}
        peaks = {n: _peak_kib(_GENERATE, n, files[n]) for n in (small, rows)}
        figures["generate + write (`write_synthetic`)"] = (
            (peaks[rows] - peaks[small]) * 1024 / (rows - small)
        )
        peaks = {n: _peak_kib(_VALIDATE, n, files[n]) for n in (small, rows)}
        figures["read + validate (`read_and_validate`)"] = (
            (peaks[rows] - peaks[small]) * 1024 / (rows - small)
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    args = parser.parse_args()
    print(f"Peak memory per row, between {args.rows // 4:,} and {args.rows:,} rows\n")
    print("| step | bytes per row |")
    print("|---|---:|")
    for step, value in bytes_per_row(args.rows).items():
        print(f"| {step} | {value:,.0f} |")


if __name__ == "__main__":
    main()
