"""Ctrl-C, SIGTERM and a second run on one folder, against real runs (tiny grid, real stores).

The run under test is the console script in its own process group, as a terminal starts it,
talking to the session's Prefect API; the signal goes to the group, as Ctrl-C does. A run is
"under way" once Prefect reports a completed grid cell: the test never touches the MLflow
database while the other process may still be creating it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ccseg.cli import main
from tasks.data.synthetic import write_synthetic

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

# Slow enough to be caught mid-grid (18 cells, 50 resamples each), small enough to start fast.
LONG_GRID = json.dumps(
    {
        "feature_sets": ["log_scaled", "behavioural"],
        "algorithms": [{"name": "kmeans", "ks": list(range(2, 11))}],
        "seeds": [0],
        "stability_resamples": 50,
    }
)
SHORT_GRID = json.dumps(
    {
        "feature_sets": ["log_scaled"],
        "algorithms": [{"name": "kmeans", "ks": [3, 4]}],
        "seeds": [0],
        "stability_resamples": 10,
    }
)
# Guards against a hang, never a measurement: a failing test ends instead of blocking the suite.
GUARD_SECONDS = 300


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_synthetic(2_000, 11, tmp_path / "customers.csv")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    monkeypatch.setenv("CCSEG_WORK_DIR", str(folder))
    for name in ("MLFLOW_TRACKING_URI", "CCSEG_DATA_PATH", "CCSEG_LOCK_WAIT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    return folder


def _start_run(work: Path, data: Path, tmp_path: Path) -> subprocess.Popen[str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env |= {
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "CCSEG_WORK_DIR": str(work),
    }
    script = Path(sys.executable).with_name("ccseg")
    return subprocess.Popen(
        [str(script), "run", "--data", str(data), "--grid", LONG_GRID],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job started from a shell
    )


@pytest.fixture
def running(work: Path, data: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A `ccseg run` in another process, returned once its grid is under way."""
    # The Prefect API is the session's: only cells this run started count.
    started = datetime.now(UTC)
    process = _start_run(work, data, tmp_path)
    try:
        deadline = time.monotonic() + GUARD_SECONDS
        while not _grid_cell_completed_since(started):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the run never reached its grid"
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def _runs(work: Path) -> tuple[list, list]:
    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cc-segmentation")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def _grid_cell_completed_since(started: datetime) -> bool:
    """Whether a grid cell completed since `started`, from Prefect's API (cells log no model)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        TaskRunFilter,
        TaskRunFilterName,
        TaskRunFilterStartTime,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    cells = TaskRunFilter(
        name=TaskRunFilterName(like_="cell "),
        start_time=TaskRunFilterStartTime(after_=started),
        state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.COMPLETED])),
    )
    with get_client(sync_client=True) as client:
        return bool(client.read_task_runs(task_run_filter=cells, limit=1))


def _cancelled_flow_runs() -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    cancelled = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CANCELLED]))
    )
    with get_client(sync_client=True) as client:
        return client.count_flow_runs(flow_run_filter=cancelled)


def _assert_stopped_cleanly(
    process: subprocess.Popen[str], work: Path, signal_name: str, code: int
) -> None:
    _, stderr = process.communicate(timeout=GUARD_SECONDS)
    assert process.returncode == code
    assert "Traceback" not in stderr
    ours = [line for line in stderr.splitlines() if line.startswith("ccseg:")]
    assert ours == [stderr.splitlines()[-1]]
    assert ours[0].startswith(f"ccseg: interrupted by {signal_name}: the run stopped; MLflow run ")
    parents, children = _runs(work)
    assert [p.info.status for p in parents] == ["KILLED"]
    assert children and all(c.info.status in {"KILLED", "FINISHED"} for c in children)
    assert not os.path.lexists(work / "outputs")  # nothing of the stopped run was published
    assert list((work / ".ccseg" / "runs").iterdir()) == []


def test_ctrl_c_ends_the_run_in_one_line_and_a_second_run_is_refused_meanwhile(
    running: subprocess.Popen[str],
    work: Path,
    data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # While the first run holds the folder, a second one is refused before it starts.
    code = main(["run", "--data", str(data), "--grid", SHORT_GRID])

    err = capsys.readouterr().err
    assert code == 75
    assert err.splitlines() == [
        line for line in err.splitlines() if line.startswith("ccseg: error: working folder")
    ]
    assert f"is in use by another ccseg run (pid {running.pid} on " in err
    cancelled_before = _cancelled_flow_runs()

    os.killpg(running.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends

    _assert_stopped_cleanly(running, work, "SIGINT", 130)
    assert _cancelled_flow_runs() == cancelled_before + 1  # Prefect's view agrees


def test_sigterm_ends_the_run_and_the_next_run_completes_on_the_same_folder(
    running: subprocess.Popen[str],
    work: Path,
    data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    running.send_signal(signal.SIGTERM)  # to the process only, as a supervisor does
    _assert_stopped_cleanly(running, work, "SIGTERM", 143)

    code = main(["run", "--data", str(data), "--grid", SHORT_GRID])

    out = capsys.readouterr().out
    assert code == 0
    assert f"segments: {work / 'outputs' / 'segments.csv'}" in out
    parents, _ = _runs(work)
    assert sorted(p.info.status for p in parents) == ["FINISHED", "KILLED"]
    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("cc-segmentation", "champion")
    finished = next(p for p in parents if p.info.status == "FINISHED")
    assert champion.run_id in {c.info.run_id for c in _runs(work)[1]}
    assert finished.data.tags["chosen_cell"] == champion.tags["grid_cell"]
