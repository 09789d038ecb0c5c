"""Each run writes into its own folder; publishing it is one atomic rename of a symlink.

    WORK_DIR/outputs -> .ccseg/current/outputs     (made once)
    WORK_DIR/reports -> .ccseg/current/reports
    WORK_DIR/.ccseg/current -> runs/<run>          (replaced atomically when a run completes)
    WORK_DIR/.ccseg/runs/<run>/{outputs,reports,data}

A reader of `outputs/` and `reports/` always sees one complete run: an interrupted or failed run
never touches them, and its folder is removed (at once, or by the next run). Paths inside a run
folder stay valid after later runs (the Prefect artifact and MLflow name them) until the folder
is pruned (`keep_runs`). Folders from before this layout are adopted as one earlier run.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import ParameterError
from tasks.workdir.lock import HOUSEKEEPING_DIR

PUBLISHED = ("outputs", "reports")
RUNS_DIR = "runs"
CURRENT = "current"
COMPLETE_MARKER = ".complete"
DATA_KIND_FILE = "data-kind"
STAMP_FORMAT = "%Y%m%dT%H%M%S"

# Publication and an interrupt's clean-up exclude each other: a run is either swapped in whole
# or discarded whole, never both.
_PUBLISH_LOCK = threading.Lock()
_open_runs: set[Path] = set()
_stopping = False


class RunAbandoned(RuntimeError):
    """The process is being interrupted: this run's folder was discarded, not published."""


@dataclass(frozen=True)
class RunFolder:
    """Where one run writes; `published(path)` is the same file as readers see it afterwards."""

    work_dir: Path
    root: Path

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def published(self, path: Path) -> Path:
        """`<run>/outputs/x` -> `WORK_DIR/outputs/x`; other paths are returned unchanged."""
        path = Path(path)
        for name in PUBLISHED:
            if path.is_relative_to(self.root / name):
                return self.work_dir / name / path.relative_to(self.root / name)
        return path


def _housekeeping(work_dir: Path) -> Path:
    return Path(work_dir) / HOUSEKEEPING_DIR


def _runs(work_dir: Path) -> Path:
    return _housekeeping(work_dir) / RUNS_DIR


def _link_target(name: str) -> Path:
    return Path(HOUSEKEEPING_DIR) / CURRENT / name


def check_work_dir_layout(work_dir: Path) -> None:
    """Refuse a working folder where `outputs` or `reports` is a file (we would not move it)."""
    for name in PUBLISHED:
        entry = Path(work_dir) / name
        if entry.is_file() and not entry.is_symlink():
            raise ParameterError(
                f"working folder {work_dir}: {entry} is a file, where the run publishes a folder; "
                "move it away or use another working folder"
            )


def check_data_kind(work_dir: Path, synthetic: bool) -> None:
    """A working folder holds real or synthetic results, never both."""
    marker = _housekeeping(work_dir) / DATA_KIND_FILE
    wanted = "synthetic" if synthetic else "real"
    try:
        recorded = marker.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return
    if recorded != wanted:
        raise ParameterError(
            f"working folder {work_dir} holds results from {recorded} data; a run on {wanted} "
            "data would mix them: use another working folder (--work-dir or CCSEG_WORK_DIR)"
        )


def open_run(work_dir: Path, run_name: str) -> RunFolder:
    """A fresh folder for this run's files (call while holding the working folder's lock)."""
    stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
    root = _runs(work_dir) / f"{stamp}-{run_name}"
    run = RunFolder(Path(work_dir), root)
    for folder in (run.outputs, run.reports, run.data):
        folder.mkdir(parents=True, exist_ok=True)
    with _PUBLISH_LOCK:
        _open_runs.add(root)
    return run


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def discard_run(run: RunFolder) -> None:
    """Remove a run that will not be published (it failed)."""
    with _PUBLISH_LOCK:
        _open_runs.discard(run.root)
    _remove(run.root)


def clear_abandoned_runs(work_dir: Path) -> None:
    """Remove folders of runs that never completed (killed); only under the folder's lock."""
    runs = _runs(work_dir)
    if runs.is_dir():
        for folder in runs.iterdir():
            if folder not in _open_runs and not (folder / COMPLETE_MARKER).exists():
                _remove(folder)


def _is_our_link(entry: Path, name: str) -> bool:
    return entry.is_symlink() and os.readlink(entry) == str(_link_target(name))


def _adopt_unmanaged_folders(work_dir: Path) -> None:
    """`outputs/` and `reports/` written before this layout become one earlier run (kept whole)."""
    entries = {name: Path(work_dir) / name for name in PUBLISHED}
    unmanaged = {
        name: entry
        for name, entry in entries.items()
        if os.path.lexists(entry) and not _is_our_link(entry, name)
    }
    if not unmanaged:
        return
    # Named by when they were last written, so pruning removes them in their turn.
    written = max(entry.lstat().st_mtime for entry in unmanaged.values())
    stamp = datetime.fromtimestamp(written, UTC).strftime(STAMP_FORMAT)
    earlier = _runs(work_dir) / f"{stamp}-before-run-folders-{os.getpid()}"
    earlier.mkdir(parents=True, exist_ok=True)
    for name, entry in unmanaged.items():
        os.replace(entry, earlier / name)
    (earlier / COMPLETE_MARKER).touch()


def _replace_symlink(link: Path, target: Path) -> None:
    staged = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    staged.unlink(missing_ok=True)
    os.symlink(target, staged)
    os.replace(staged, link)  # atomic: readers see the old target or the new one


def _prune(work_dir: Path, keep: int) -> None:
    complete = sorted(
        folder for folder in _runs(work_dir).iterdir() if (folder / COMPLETE_MARKER).exists()
    )
    for folder in complete[:-keep]:
        _remove(folder)


def publish_run(run: RunFolder, synthetic: bool, keep: int) -> None:
    """Swap the run in as `outputs/` and `reports/` in one rename; keep the last `keep` runs."""
    housekeeping = _housekeeping(run.work_dir)
    with _PUBLISH_LOCK:
        if _stopping:
            raise RunAbandoned(f"interrupted: {run.root} was not published")
        _adopt_unmanaged_folders(run.work_dir)
        (run.root / COMPLETE_MARKER).touch()
        _replace_symlink(housekeeping / CURRENT, Path(RUNS_DIR) / run.root.name)
        for name in PUBLISHED:
            link = run.work_dir / name
            if not link.is_symlink():
                _replace_symlink(link, _link_target(name))
        (housekeeping / DATA_KIND_FILE).write_text(
            "synthetic\n" if synthetic else "real\n", encoding="utf-8"
        )
        _open_runs.discard(run.root)
    _prune(run.work_dir, keep)


def abandon_open_runs() -> list[Path]:
    """For an interrupt: no run publishes from now on; unpublished run folders are removed."""
    global _stopping
    with _PUBLISH_LOCK:
        _stopping = True
        abandoned = sorted(_open_runs)
        _open_runs.clear()
    for root in abandoned:
        _remove(root)
    return abandoned
