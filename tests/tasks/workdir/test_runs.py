"""Run folders: readers of outputs/ and reports/ see one complete run, never two mixed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import ParameterError
from tasks.workdir import runs
from tasks.workdir.runs import (
    RunAbandoned,
    abandon_open_runs,
    check_data_kind,
    check_work_dir_layout,
    clear_abandoned_runs,
    discard_run,
    open_run,
    publish_run,
)


def _run(work_dir: Path, name: str, marker: str) -> runs.RunFolder:
    run = open_run(work_dir, name)
    (run.outputs / "segments.csv").write_text(marker)
    (run.reports / "report.html").write_text(marker)
    return run


def _seen(work_dir: Path) -> tuple[str, str]:
    return (
        (work_dir / "outputs" / "segments.csv").read_text(),
        (work_dir / "reports" / "report.html").read_text(),
    )


def test_a_published_run_is_what_readers_see(tmp_path: Path) -> None:
    first = _run(tmp_path, "first", "run 1")

    publish_run(first, synthetic=False, keep=3)

    assert _seen(tmp_path) == ("run 1", "run 1")
    assert first.published(first.outputs / "segments.csv") == tmp_path / "outputs/segments.csv"


def test_the_next_run_replaces_both_folders_at_once(tmp_path: Path) -> None:
    publish_run(_run(tmp_path, "first", "run 1"), synthetic=False, keep=3)
    second = _run(tmp_path, "second", "run 2")

    assert _seen(tmp_path) == ("run 1", "run 1")  # writing the next run changes nothing yet
    publish_run(second, synthetic=False, keep=3)

    assert _seen(tmp_path) == ("run 2", "run 2")
    # outputs/ and reports/ follow one pointer: one rename swaps both.
    assert os.readlink(tmp_path / "outputs") == ".ccseg/current/outputs"
    assert os.readlink(tmp_path / ".ccseg" / "current") == f"runs/{second.root.name}"


def test_a_failed_run_leaves_the_published_one_untouched(tmp_path: Path) -> None:
    publish_run(_run(tmp_path, "first", "run 1"), synthetic=False, keep=3)
    failed = _run(tmp_path, "failed", "half a run")

    discard_run(failed)

    assert _seen(tmp_path) == ("run 1", "run 1")
    assert not failed.root.exists()


def test_an_interrupt_abandons_open_runs_and_refuses_to_publish_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "_stopping", False)  # restored after the test
    publish_run(_run(tmp_path, "first", "run 1"), synthetic=False, keep=3)
    interrupted = _run(tmp_path, "interrupted", "half a run")

    assert abandon_open_runs() == [interrupted.root]
    with pytest.raises(RunAbandoned):
        publish_run(interrupted, synthetic=False, keep=3)

    assert not interrupted.root.exists()
    assert _seen(tmp_path) == ("run 1", "run 1")


def test_folders_of_killed_runs_are_cleared_by_the_next_run(tmp_path: Path) -> None:
    published = _run(tmp_path, "first", "run 1")
    publish_run(published, synthetic=False, keep=3)
    killed = tmp_path / ".ccseg" / "runs" / "20000101T000000-killed"
    (killed / "outputs").mkdir(parents=True)
    still_open = _run(tmp_path, "open", "in progress")

    clear_abandoned_runs(tmp_path)

    assert not killed.exists()
    assert published.root.exists() and still_open.root.exists()
    discard_run(still_open)


def test_only_the_last_runs_are_kept(tmp_path: Path) -> None:
    folders = []
    for index in range(4):
        # Folders sort by start time, then name: run0 < run1 < ... even within one second.
        run = _run(tmp_path, f"run{index}", f"run {index}")
        publish_run(run, synthetic=False, keep=2)
        folders.append(run.root)

    assert [f.exists() for f in folders] == [False, False, True, True]
    assert _seen(tmp_path) == ("run 3", "run 3")


def test_folders_from_before_run_folders_are_kept_as_an_earlier_run(tmp_path: Path) -> None:
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "segments.csv").write_text("old layout")
    (tmp_path / "reports").mkdir()

    publish_run(_run(tmp_path, "first", "run 1"), synthetic=False, keep=3)

    assert _seen(tmp_path) == ("run 1", "run 1")
    kept = list((tmp_path / ".ccseg" / "runs").glob("*-before-run-folders-*/outputs/segments.csv"))
    assert [p.read_text() for p in kept] == ["old layout"]


def test_a_file_where_a_published_folder_goes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outputs").write_text("my notes")

    with pytest.raises(ParameterError, match="outputs is a file"):
        check_work_dir_layout(tmp_path)


def test_a_folder_with_real_results_refuses_a_synthetic_run(tmp_path: Path) -> None:
    publish_run(_run(tmp_path, "real", "real results"), synthetic=False, keep=3)

    check_data_kind(tmp_path, synthetic=False)
    with pytest.raises(ParameterError, match="holds results from real data; a run on synthetic"):
        check_data_kind(tmp_path, synthetic=True)
