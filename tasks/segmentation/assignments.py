"""Customer -> segment tables on disk: CSV and Parquet, each written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """Write CSV and Parquet beside it, each atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parquet = path.with_suffix(".parquet")
    for target, write in ((path, table.to_csv), (parquet, table.to_parquet)):
        staged = target.with_name(f".{target.name}.tmp")
        write(staged, index=False)
        staged.replace(target)
    return path
