"""Path checks shared by the CLI's preflight and the flows: they read, never create anything.

Each names the path, what it was meant to be (`what`: "--data", "CCSEG_WORK_DIR", ...) and the
problem, so the message a user sees says which input to fix.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from core.errors import FileLevelError, ParameterError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def require_input_file(path: Path, what: str = "data file", hint: str = "") -> Path:
    """A readable regular file; a FIFO is refused before anything reads it (a read would hang)."""
    path = Path(path)
    problem = None
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        problem = "not found"
    except NotADirectoryError:
        problem = "not found (a parent is a file)"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror})"
    else:
        if stat.S_ISDIR(mode):
            problem = "is a directory, not a CSV file"
        elif not stat.S_ISREG(mode):
            problem = f"is {_kind(mode)}, not a regular file"
        elif not os.access(path, os.R_OK):
            problem = "cannot be read (permission denied)"
    if problem is not None:
        raise FileLevelError(path, f"{what} {problem}" + (f" ({hint})" if hint else ""))
    return path


def _nearest_existing(path: Path) -> Path:
    """The path itself or its closest ancestor that exists (what `mkdir -p` would start from)."""
    candidate = path.absolute()
    while not os.path.lexists(candidate) and candidate != candidate.parent:
        candidate = candidate.parent
    return candidate


def _can_create_in(folder: Path) -> str | None:
    """None if a folder can be made inside `folder`, else why not.

    A probe (made and removed at once) rather than `os.access`: root passes every access check,
    and read-only mounts or /proc refuse only when something is actually created.
    """
    try:
        probe = tempfile.mkdtemp(prefix=".ccseg-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.rmdir(probe)
    return None


def require_writable_dir(path: Path, what: str) -> Path:
    """A folder that exists and is writable, or one `mkdir -p` could create."""
    path = Path(path)
    existing = _nearest_existing(path)
    if existing == path.absolute():
        if not existing.is_dir():
            raise ParameterError(f"{what} {path} is a file, not a folder")
        if problem := _can_create_in(existing):
            raise ParameterError(f"{what} {path} is not writable ({problem})")
        return path
    if not existing.is_dir():
        raise ParameterError(f"{what} {path} cannot be created: {existing} is a file")
    if problem := _can_create_in(existing):
        raise ParameterError(f"{what} {path} cannot be created in {existing} ({problem})")
    return path


def require_writable_file(path: Path, what: str) -> Path:
    """A file path we may (over)write: not a folder, and its folder writable or creatable."""
    path = Path(path)
    if path.is_dir():
        raise ParameterError(f"{what} {path} is a folder; give a file name such as {path}/x.csv")
    if os.path.lexists(path) and not path.is_file():
        raise ParameterError(f"{what} {path} exists and is not a regular file")
    if path.is_file() and not os.access(path, os.W_OK):
        raise ParameterError(f"{what} {path} is not writable")
    require_writable_dir(path.parent, f"the folder of {what}")
    return path
