"""The working-folder lock: a second process is refused (or waits), this process re-enters."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import BusyError
from core.settings import PipelineSettings
from tasks.workdir.lock import hold_run_locks, store_lock_path, work_dir_lock_path

# Holds the folder's lock until its stdin closes; prints "held" once it has it.
HOLDER = """
import sys
from core.settings import PipelineSettings
from tasks.workdir.lock import hold_run_locks
with hold_run_locks(PipelineSettings(work_dir=sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipelineSettings:
    for name in ("MLFLOW_TRACKING_URI", "CCSEG_MLFLOW_TRACKING_URI", "CCSEG_LOCK_WAIT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    return PipelineSettings(work_dir=tmp_path)


@pytest.fixture
def other_process(settings: PipelineSettings) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.work_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if holder.stdin and not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=60)


def test_a_second_process_is_refused_with_the_holder_named(
    settings: PipelineSettings, other_process: subprocess.Popen[str]
) -> None:
    with pytest.raises(BusyError) as raised, hold_run_locks(settings):
        pass

    message = str(raised.value)
    assert message.startswith(f"working folder {settings.work_dir} is in use by another ccseg run")
    assert f"pid {other_process.pid}" in message
    assert "CCSEG_LOCK_WAIT_SECONDS" in message
    assert raised.value.exit_code == 75


def test_with_a_wait_the_second_process_runs_once_the_first_is_done(
    settings: PipelineSettings, other_process: subprocess.Popen[str]
) -> None:
    patient = settings.model_copy(update={"lock_wait_seconds": 60.0})
    assert other_process.stdin is not None
    threading.Timer(0.5, other_process.stdin.close).start()

    with hold_run_locks(patient):
        owner = work_dir_lock_path(settings.work_dir).with_name("lock.owner.json")
        assert owner.read_text().count('"pid"') == 1


def test_the_same_process_reenters_its_own_lock(settings: PipelineSettings) -> None:
    # The CLI takes the lock before Prefect starts and the flow takes it again.
    with hold_run_locks(settings), hold_run_locks(settings):
        assert work_dir_lock_path(settings.work_dir).exists()


def test_the_owner_record_goes_when_the_lock_is_released(settings: PipelineSettings) -> None:
    owner = work_dir_lock_path(settings.work_dir).with_name("lock.owner.json")

    with hold_run_locks(settings):
        assert owner.is_file()

    assert not owner.exists()


def test_the_default_store_is_covered_by_the_folder_lock(settings: PipelineSettings) -> None:
    assert store_lock_path(settings) is None


def test_a_sqlite_store_elsewhere_is_locked_beside_its_file(
    tmp_path: Path, settings: PipelineSettings
) -> None:
    elsewhere = settings.model_copy(
        update={"mlflow_tracking_uri": f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"}
    )

    assert store_lock_path(elsewhere) == tmp_path / "shared" / ".mlflow.db.ccseg-lock"


def test_a_server_store_gets_one_lock_per_uri(settings: PipelineSettings) -> None:
    first = settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:5000"})
    second = settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:5001"})

    assert store_lock_path(first) != store_lock_path(second)
    assert store_lock_path(first) == store_lock_path(first.model_copy())


def test_a_relative_and_an_absolute_name_of_the_folder_share_one_lock(
    settings: PipelineSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(settings.work_dir.parent)
    relative = settings.model_copy(update={"work_dir": Path(settings.work_dir.name)})

    with hold_run_locks(relative), hold_run_locks(settings):
        assert work_dir_lock_path(relative.work_dir) == work_dir_lock_path(settings.work_dir)
