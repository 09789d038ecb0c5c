"""Errors a flow raises for bad input: one line for the user, Prefect's traceback only at DEBUG.

The flows here are real Prefect flows on the session's API; a handler on Prefect's run loggers
sees exactly what passes the loggers' filters, i.e. what the console (and the API) would get.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow, task

from ccseg.cli import main
from ccseg.failures import RUN_LOGGERS, error_line, quiet_user_errors_in_run_logs
from core.errors import ParameterError
from tasks.data.synthetic import write_synthetic

pytestmark = pytest.mark.usefixtures("prefect_api")


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(params=["INFO", "DEBUG"])
def kept(request: pytest.FixtureRequest) -> Iterator[_Kept]:
    """What Prefect's run loggers let through at the user's log level (default INFO; DEBUG)."""
    quiet_user_errors_in_run_logs()
    handler = _Kept()
    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(request.param)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@task(retries=0)
def _check_input(value: int) -> int:
    if value < 0:
        raise ParameterError(f"--rate must be positive, got {value}")
    if value == 0:
        raise ZeroDivisionError("a bug, not bad input")
    return value


@flow
def _load(value: int) -> int:
    return _check_input(value)


def test_a_users_error_in_a_task_leaves_no_error_record_and_no_traceback(kept: _Kept) -> None:
    with pytest.raises(ParameterError, match="--rate must be positive"):
        _load(-1)

    above_debug = [r for r in kept.records if r.levelno > logging.DEBUG]
    assert [r for r in above_debug if r.exc_info or r.levelno > logging.INFO] == []
    # The run's own progress lines still pass; the failure's detail only at DEBUG.
    assert any("Beginning flow run" in r.getMessage() for r in above_debug)
    detail = [r for r in kept.records if r.exc_info]
    if logging.getLogger(RUN_LOGGERS[0]).isEnabledFor(logging.DEBUG):
        assert detail and all(isinstance(r.exc_info[1], ParameterError) for r in detail)
    else:
        assert detail == []


def test_a_bug_keeps_its_traceback(kept: _Kept) -> None:
    with pytest.raises(ZeroDivisionError):
        _load(0)

    tracebacks = [r for r in kept.records if r.levelno >= logging.ERROR and r.exc_info]
    assert {r.getMessage().split(":")[0] for r in tracebacks} == {
        "Task run failed with exception",
        "Encountered exception during execution",
    }


def test_the_error_line_is_always_one_line() -> None:
    assert error_line("first\n  second") == "ccseg: error: first second"


@pytest.fixture
def all_quarantined(tmp_path: Path) -> Path:
    """Two customers, each with a balance that is not a number."""
    good = write_synthetic(2, 0, tmp_path / "good.csv").read_text().splitlines()
    header = good[0].split(",")
    rows = []
    for line in good[1:]:
        cells = line.split(",")
        cells[header.index("BALANCE")] = "lots"
        rows.append(",".join(cells))
    path = tmp_path / "all_bad.csv"
    path.write_text("\n".join([good[0], *rows]) + "\n")
    return path


def test_a_run_on_a_file_with_every_row_quarantined_ends_in_one_line(
    all_quarantined: Path, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    work = tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "CCSEG_"))}
    env |= {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "CCSEG_WORK_DIR": str(work)}
    env["PREFECT_LOGGING_LEVEL"] = "INFO"  # what a user sees by default
    env.pop("MLFLOW_TRACKING_URI", None)
    script = Path(sys.executable).with_name("ccseg")

    finished = subprocess.run(
        [str(script), "run", "--data", str(all_quarantined)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    lines = finished.stderr.splitlines()
    assert finished.returncode == 2
    assert lines[-1] == error_line(
        f"{all_quarantined}: all 2 rows were quarantined (not_a_number 2); nothing to use; "
        f"see each row's reasons with `ccseg validate {all_quarantined} --out DIR`"
    )
    assert [line for line in lines if line.startswith("ccseg:")] == [lines[-1]]
    assert "Traceback" not in finished.stderr
    assert not [line for line in lines if "| ERROR" in line]
    assert not os.path.lexists(work / "outputs")  # nothing published
    assert list((work / ".ccseg" / "runs").iterdir()) == []


def test_a_grid_that_cannot_fit_the_data_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_synthetic(30, 2, tmp_path / "small.csv")
    monkeypatch.setenv("CCSEG_WORK_DIR", str(tmp_path / "work"))
    grid = '{"feature_sets": ["log_scaled"], "algorithms": [{"name": "kmeans", "ks": [40, 50]}]}'

    code = main(["run", "--data", str(data), "--grid", grid])

    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        error_line(
            "every grid cell needs more customers than the 30 clean row(s): "
            "log_scaled|kmeans|k=40|seed=0, log_scaled|kmeans|k=50|seed=0; "
            "use smaller k (--grid) or more data"
        )
    ]
