"""`python -m bench` lists the benchmarks; each runs on its own as `python -m bench.NAME`."""

import pkgutil
from pathlib import Path

if __name__ == "__main__":
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not module.name.startswith("_"):
            print(f"python -m bench.{module.name}")
