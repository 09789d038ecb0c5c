"""One run at a time per working folder and per model store: an OS file lock, not a hope.

Two runs on one folder would race on `mlflow.db` (MLflow creates its tables on first use:
"table already exists") and on the registry's `champion` alias (both read the old champion,
both move the alias). The lock is an flock held by the process (`filelock`), so a crashed or
killed run never leaves a stale lock behind. It is re-entrant within a process: the CLI takes
it before Prefect starts (to refuse at once) and the flow takes it again (deployments run the
flow without the CLI).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import BusyError
from core.settings import PipelineSettings

HOUSEKEEPING_DIR = ".ccseg"
LOCK_FILE = "lock"
OWNER_SUFFIX = ".owner.json"


def work_dir_lock_path(work_dir: Path) -> Path:
    # Absolute: the CLI and the flow must name the same lock to share it (re-entrance).
    return Path(work_dir).resolve() / HOUSEKEEPING_DIR / LOCK_FILE


def store_lock_path(settings: PipelineSettings) -> Path | None:
    """A second lock for a store outside the working folder; None when the folder lock covers it.

    A sqlite store elsewhere is locked beside its file. A server store gets a lock per URI in the
    temp folder: that serialises runs on this machine; runs on other machines are serialised by
    the deployments' work queue (limit 1, prefect.yaml).
    """
    database = settings.sqlite_store_path
    if database is not None:
        if database.resolve().parent == Path(settings.work_dir).resolve():
            return None
        return database.resolve().parent / f".{database.name}.ccseg-lock"
    digest = hashlib.sha256(settings.tracking_uri.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"ccseg-{os.getuid()}" / f"store-{digest}.lock"


# Owner records this process wrote, for an interrupt's clean-up (`forget_owner_records`).
_owned: set[Path] = set()


def _owner_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + OWNER_SUFFIX)


def _describe_owner(lock_path: Path) -> str:
    try:
        owner = json.loads(_owner_path(lock_path).read_text(encoding="utf-8"))
        return f"pid {owner['pid']} on {owner['host']}, since {owner['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _write_owner(lock_path: Path) -> None:
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": " ".join(sys.argv),
    }
    _owner_path(lock_path).write_text(json.dumps(owner) + "\n", encoding="utf-8")
    _owned.add(_owner_path(lock_path))


def forget_owner_records() -> None:
    """Remove this process's owner records (before it exits without unwinding)."""
    for path in list(_owned):
        path.unlink(missing_ok=True)
        _owned.discard(path)


@contextmanager
def _held(lock_path: Path, what: str, wait_seconds: float) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # One lock object per path in this process, shared by every thread: re-entrant by count.
    lock = FileLock(lock_path, thread_local=False, is_singleton=True)
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
        raise BusyError(
            f"{what} is in use by another ccseg run ({_describe_owner(lock_path)}){waited}: "
            "wait for it to finish, set CCSEG_LOCK_WAIT_SECONDS to wait, or use another "
            "working folder (--work-dir or CCSEG_WORK_DIR)"
        ) from None
    try:
        if lock.lock_counter == 1:
            _write_owner(lock_path)
        yield
    finally:
        if lock.lock_counter == 1:
            _owner_path(lock_path).unlink(missing_ok=True)
            _owned.discard(_owner_path(lock_path))
        lock.release()


@contextmanager
def hold_run_locks(settings: PipelineSettings) -> Iterator[None]:
    """Hold the working folder's lock (and the store's, if elsewhere) for the whole block."""
    with ExitStack() as stack:
        work_dir = Path(settings.work_dir)
        stack.enter_context(
            _held(
                work_dir_lock_path(work_dir),
                f"working folder {work_dir.resolve()}",
                settings.lock_wait_seconds,
            )
        )
        store_lock = store_lock_path(settings)
        if store_lock is not None:
            store = f"model store {settings.tracking_uri}"
            stack.enter_context(_held(store_lock, store, settings.lock_wait_seconds))
        yield
