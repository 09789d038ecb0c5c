"""Landing-folder bookkeeping: which files are new by content, settled, and the seen-state file."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.paths import require_input_file, require_writable_file

LANDED_EVENT = "ccseg.data.landed"
RESOURCE_PREFIX = "ccseg.data."
STATE_FILE_NAME = ".ccseg-landing-state.json"
STATE_VERSION = 1
# 16 hex digits (64 bits) tell files apart in the UI; the payload carries the full digest.
RESOURCE_DIGEST_CHARS = 16
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class LandedFile:
    """A settled file whose content the watcher has not announced before."""

    path: Path
    sha256: str
    bytes: int

    @property
    def resource_id(self) -> str:
        return f"{RESOURCE_PREFIX}{self.sha256[:RESOURCE_DIGEST_CHARS]}"

    def event_fields(self) -> dict[str, Any]:
        """Keyword arguments for `emit_event` / `Event`: name, resource and payload."""
        return {
            "event": LANDED_EVENT,
            "resource": {"prefect.resource.id": self.resource_id},
            "payload": {"path": str(self.path), "sha256": self.sha256, "bytes": self.bytes},
        }


@dataclass(frozen=True)
class FileStamp:
    """Size and modification time: equal stamps mean the bytes were (almost surely) untouched."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        stat = path.stat()
        return cls(stat.st_size, stat.st_mtime_ns)


@dataclass
class LandingState:
    """What the watcher already announced (by sha256) and a hash cache keyed by path."""

    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    hashes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "seen": self.seen, "hashes": self.hashes}


@dataclass(frozen=True)
class LandingScan:
    """One look at the landing folder: new files, files left for later, and the updated cache."""

    new_files: list[LandedFile]
    unsettled: list[Path]
    hashes: dict[str, dict[str, Any]]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def require_landing_dir(landing_dir: Path) -> Path:
    """The landing folder, absolute; a missing one is the user's to create, not ours to guess."""
    if not landing_dir.is_dir():
        raise ParameterError(
            f"landing folder not found: {landing_dir} (create it, or pass the folder new CSV "
            "files are dropped into)"
        )
    return landing_dir.resolve()


def require_pattern(pattern: str) -> str:
    """A glob for file names in the landing folder (`*.csv`); an empty one matches nothing."""
    if not pattern.strip():
        raise ParameterError("--pattern is empty: give a glob for the files to take, e.g. '*.csv'")
    if pattern.startswith("/") or ".." in Path(pattern).parts:
        raise ParameterError(f"--pattern {pattern!r} must name files inside the landing folder")
    return pattern


def require_state_file(state_file: Path) -> Path:
    """The seen-hashes file: a file we can replace (or create), never a folder."""
    require_writable_file(state_file, "--state-file")
    return state_file


def candidate_files(landing_dir: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` directly in the folder, in name order.

    Dot-files are skipped: that is our own state file and the temporary names upload tools
    (rsync, browsers) write to before renaming into place.
    """
    return sorted(
        path
        for path in landing_dir.glob(pattern)
        if path.is_file() and not path.name.startswith(".")
    )


def is_settled(stamp: FileStamp, now: float, settle_seconds: float) -> bool:
    """Settled = non-empty and unmodified for `settle_seconds`; uploads create the file first."""
    return stamp.size > 0 and now - stamp.mtime_ns / 1e9 >= settle_seconds


def scan_landing(
    landing_dir: Path,
    pattern: str,
    state: LandingState,
    now: float,
    settle_seconds: float,
    hasher: Callable[[Path], str] = sha256_of,
) -> LandingScan:
    """Find settled files whose content is not in `state.seen`; pure apart from reading files.

    A file is skipped while it is younger than `settle_seconds`, and also when its size or
    mtime changed while it was being hashed (still being written): the next look retries it.
    """
    new_files: list[LandedFile] = []
    unsettled: list[Path] = []
    hashes: dict[str, dict[str, Any]] = {}
    announced = set(state.seen)
    for path in candidate_files(landing_dir, pattern):
        before = FileStamp.of(path)
        if not is_settled(before, now, settle_seconds):
            unsettled.append(path)
            continue
        # Unchanged size and mtime (ns) reuse the last digest: a 5-minute schedule must not
        # re-read every file it has ever seen.
        cached = state.hashes.get(str(path))
        if cached and (cached["size"], cached["mtime_ns"]) == (before.size, before.mtime_ns):
            digest = cached["sha256"]
        else:
            digest = hasher(path)
            if FileStamp.of(path) != before:
                unsettled.append(path)
                continue
        hashes[str(path)] = {"size": before.size, "mtime_ns": before.mtime_ns, "sha256": digest}
        if digest not in announced:
            announced.add(digest)
            new_files.append(LandedFile(path, digest, before.size))
    return LandingScan(new_files, unsettled, hashes)


def mark_announced(
    state: LandingState, scan: LandingScan, announced: list[LandedFile], when: str
) -> LandingState:
    """The next state: announced contents join `seen`; the cache keeps only files still there."""
    seen = dict(state.seen)
    for landed in announced:
        seen[landed.sha256] = {"path": str(landed.path), "bytes": landed.bytes, "first_seen": when}
    return LandingState(seen=seen, hashes=scan.hashes)


def load_state(state_file: Path) -> LandingState:
    """The saved state, or an empty one when the watcher has never run against this file."""
    if not state_file.exists():
        return LandingState()
    try:
        data = json.loads(state_file.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported version {data.get('version')!r}")
        return LandingState(seen=dict(data["seen"]), hashes=dict(data["hashes"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParameterError(
            f"landing state file {state_file} is unreadable ({exc}); delete it to start over "
            "(every file in the landing folder will then be announced again)"
        ) from None


def save_state(state: LandingState, state_file: Path) -> Path:
    """Write the state atomically: a crash leaves the old file or the new one, never half."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{state_file.name}.", suffix=".tmp", dir=state_file.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(state.to_json(), stream, indent=2, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, state_file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return state_file


def landed_file(path: Path) -> LandedFile:
    """Describe one file for a hand-made announcement (`ccseg notify`)."""
    resolved = require_input_file(path, "file").resolve()
    return LandedFile(resolved, sha256_of(resolved), resolved.stat().st_size)
