"""Which file the flow segments: the user's, the real one beside the project, or synthetic data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import task

from core.errors import ParameterError

SYNTHETIC_BANNER = (
    "*** SYNTHETIC DATA *** The real CC GENERAL file was not found at {path}; this run segments "
    "{rows:,} generated customers with planted segments. Set CCSEG_DATA_PATH to the real file."
)


@dataclass(frozen=True)
class DataSource:
    """The file to read, and whether it was generated because no real file was found."""

    path: Path
    is_synthetic: bool
    banner: str | None = None


@task(name="resolve-data")
def resolve_data(
    data_path: Path | None,
    default_path: Path,
    synthetic_dir: Path,
    synthetic_rows: int,
    synthetic_seed: int,
) -> DataSource:
    """An explicit path must exist; a missing default falls back to synthetic data, loudly."""
    if data_path is not None:
        if not Path(data_path).is_file():
            raise ParameterError(f"data file not found: {data_path}")
        return DataSource(Path(data_path), is_synthetic=False)
    if default_path.is_file():
        return DataSource(default_path, is_synthetic=False)
    from tasks.data.synthetic import write_synthetic

    target = synthetic_dir / f"cc_synthetic_{synthetic_rows}_seed{synthetic_seed}.csv"
    write_synthetic(synthetic_rows, synthetic_seed, target, target.with_suffix(".labels.csv"))
    banner = SYNTHETIC_BANNER.format(path=default_path, rows=synthetic_rows)
    print(banner)
    return DataSource(target, is_synthetic=True, banner=banner)
