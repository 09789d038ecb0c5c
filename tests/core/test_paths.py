"""Shared path checks: each wrong kind of path is named, and checking never creates anything."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from core.errors import FileLevelError, ParameterError
from core.paths import require_input_file, require_writable_dir, require_writable_file


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_readable_regular_file_passes(tmp_path: Path) -> None:
    data = tmp_path / "drop.csv"
    data.write_text("x\n")

    assert require_input_file(data) == data


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


def _socket(tmp_path: Path) -> Path:
    path = tmp_path / "sock.csv"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


def _directory(tmp_path: Path) -> Path:
    (tmp_path / "folder.csv").mkdir()
    return tmp_path / "folder.csv"


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("x")
    return tmp_path / "plain" / "drop.csv"


BAD_INPUTS = {
    "missing": (lambda tmp: tmp / "typo.csv", "not found"),
    "directory": (_directory, "is a directory, not a CSV file"),
    "fifo": (_fifo, "is a FIFO (named pipe), not a regular file"),
    "socket": (_socket, "is a socket, not a regular file"),
    "parent is a file": (_under_a_file, "not found (a parent is a file)"),
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_an_input_that_is_not_a_readable_file_is_named_with_its_kind(
    kind: str, tmp_path: Path
) -> None:
    make, problem = BAD_INPUTS[kind]
    path = make(tmp_path)

    with pytest.raises(FileLevelError) as raised:
        require_input_file(path, "--data file", hint="check the path")

    assert str(raised.value) == f"{path}: --data file {problem} (check the path)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "secret.csv"
    data.write_text("x\n")
    data.chmod(0)

    with pytest.raises(FileLevelError, match="permission denied"):
        require_input_file(data)


def test_a_folder_to_create_passes_without_being_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out"

    assert require_writable_dir(target, "--out") == target
    assert _listing(tmp_path) == []


def test_an_existing_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("keep me")

    with pytest.raises(ParameterError, match=r"--out .*results is a file, not a folder"):
        require_writable_dir(tmp_path / "results", "--out")

    assert (tmp_path / "results").read_text() == "keep me"


def test_a_folder_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("keep me")

    with pytest.raises(ParameterError, match=r"cannot be created: .*results is a file"):
        require_writable_dir(tmp_path / "results" / "out", "--out")


def test_a_place_where_nothing_can_be_created_is_refused_even_for_root() -> None:
    # /proc refuses new entries to everyone, root included, where an access check would pass.
    with pytest.raises(ParameterError, match=r"--out /proc/ccseg-out cannot be created in /proc"):
        require_writable_dir(Path("/proc/ccseg-out"), "--out")


def test_a_file_target_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"--out .* is a folder; give a file name"):
        require_writable_file(tmp_path, "--out")


def test_a_file_target_in_a_new_folder_passes_without_creating_it(tmp_path: Path) -> None:
    assert require_writable_file(tmp_path / "new" / "scored.csv", "--out")
    assert _listing(tmp_path) == []
