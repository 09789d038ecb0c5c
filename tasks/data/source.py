"""Which file the flow segments: the user's, the real one beside the project, or synthetic data.

Real and synthetic never mix. A path the user gave (`--data`, `CCSEG_DATA_PATH`) must be a
readable file: a typo is an error, never a quiet switch to generated customers. Synthetic data is
used only when no path was given at all and the real file is not beside the project; such a run
says so everywhere and writes to its own folder, experiment and registered model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from core.errors import ParameterError
from core.paths import require_input_file
from core.settings import DEFAULT_DATA_PATH, PipelineSettings

# Peak memory per row of a run's first step, validation (3.0-3.2 KB measured by
# bench/memory_per_row.py: every field is held as text before it is typed); generating the rows
# needs far less, so this bounds how many synthetic customers a run may ask for.
VALIDATION_BYTES_PER_ROW = 3_200

SYNTHETIC_BANNER = (
    "*** SYNTHETIC DATA *** No data file was given and the real CC GENERAL file is not at "
    "{path}; this run segments {rows:,} generated customers with planted segments, in its own "
    "folder {work_dir}. Pass --data or set CCSEG_DATA_PATH to segment real customers."
)


@dataclass(frozen=True)
class DataSource:
    """The file to read, and whether it was generated because no real file was found."""

    path: Path
    is_synthetic: bool
    banner: str | None = None


@dataclass(frozen=True)
class SourceChoice:
    """The decision, made before anything is written: a real file, or synthetic rows to make."""

    path: Path | None
    what: str  # how the user named the file, for messages ("--data", "CCSEG_DATA_PATH", ...)
    synthetic_rows: int = 0
    synthetic_seed: int = 0

    @property
    def is_synthetic(self) -> bool:
        return self.path is None


def choose_source(
    data_path: Path | None,
    settings: PipelineSettings,
    synthetic_rows: int,
    synthetic_seed: int = 0,
    default_path: Path | None = None,
    rows_name: str = "synthetic_rows",
) -> SourceChoice:
    """`data_path` (the flag) wins, then CCSEG_DATA_PATH, then the real file beside the project.

    An explicit path is checked here (exists, regular file, readable); only when none was given
    and the default file is absent does the choice fall to synthetic data.
    """
    # Checked even when a real file is used: a nonsense value is a mistake either way.
    if (
        isinstance(synthetic_rows, bool)
        or not isinstance(synthetic_rows, int)
        or synthetic_rows < 1
    ):
        raise ParameterError(
            f"{rows_name} must be a whole number of at least 1, got {synthetic_rows!r}"
        )
    if data_path is not None:
        return SourceChoice(require_input_file(Path(data_path), "--data file"), "--data")
    if settings.data_path is not None:
        path = require_input_file(
            settings.data_path,
            "CCSEG_DATA_PATH file",
            hint="fix the path, or unset CCSEG_DATA_PATH to use the default",
        )
        return SourceChoice(path, "CCSEG_DATA_PATH")
    default_path = default_path if default_path is not None else DEFAULT_DATA_PATH
    if default_path.exists():
        return SourceChoice(require_input_file(default_path, "real data file"), "default")
    from tasks.data.synthetic import check_synthetic_size

    check_synthetic_size(synthetic_rows, synthetic_seed, VALIDATION_BYTES_PER_ROW, rows_name)
    return SourceChoice(None, "synthetic", synthetic_rows, synthetic_seed)


@task(name="materialise-data", cache_policy=NO_CACHE)
def materialise_source(choice: SourceChoice, data_dir: Path, work_dir: Path) -> DataSource:
    """The chosen real file as is, or the synthetic file written into this run's data folder."""
    if choice.path is not None:
        return DataSource(choice.path, is_synthetic=False)
    from tasks.data.synthetic import write_synthetic

    rows, seed = choice.synthetic_rows, choice.synthetic_seed
    target = Path(data_dir) / f"cc_synthetic_{rows}_seed{seed}.csv"
    write_synthetic(rows, seed, target, target.with_suffix(".labels.csv"))
    banner = SYNTHETIC_BANNER.format(path=DEFAULT_DATA_PATH, rows=rows, work_dir=work_dir)
    print(banner)
    return DataSource(target, is_synthetic=True, banner=banner)
