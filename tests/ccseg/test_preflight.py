"""Every bad input the door test found, a row each: one line, exit 2, nothing written, no run.

Each row builds its input in a fresh folder (the working folder and the current one), runs the
CLI in-process against the session's real Prefect API, and checks that the command failed
before Prefect started: the API holds as many flow runs as before, and the folder is as it was.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ccseg.cli import main
from tasks.data.synthetic import write_synthetic

GOOD_GRID = '{"feature_sets": ["log_scaled"], "algorithms": [{"name": "kmeans", "ks": [3]}]}'


@dataclass(frozen=True)
class Row:
    """A command line (with {placeholders}), its environment, and what the error must name."""

    argv: list[str]
    names: str
    env: dict[str, str] = field(default_factory=dict)
    no_real_file: bool = False  # the real file beside the project is taken away
    exit_code: int = 2


@dataclass
class Place:
    """The folder a row runs in, with the inputs rows refer to."""

    root: Path
    closed_port: int
    busy_port: int
    store_only: Path

    def values(self) -> dict[str, str]:
        r = self.root
        return {
            "good": str(r / "good.csv"),
            "empty": str(r / "empty.csv"),
            "png": str(r / "image.csv"),
            "fifo": str(r / "pipe.csv"),
            "folder": str(r / "a_folder"),
            "file": str(r / "a_file.txt"),
            "missing": str(r / "typo.csv"),
            "store_only": str(self.store_only),
            "closed": str(self.closed_port),
            "busy": str(self.busy_port),
            "tmp": str(r),
        }


ROWS: dict[str, Row] = {
    # A typo never becomes a synthetic run.
    "ccseg_data_path_typo": Row(
        ["run"], "{missing}: CCSEG_DATA_PATH file not found", {"CCSEG_DATA_PATH": "{missing}"}
    ),
    "data_missing": Row(["run", "--data", "{missing}"], "{missing}: --data file not found"),
    "data_is_a_folder": Row(["run", "--data", "{folder}"], "--data file is a directory"),
    "data_is_empty": Row(["run", "--data", "{empty}"], "{empty}: file is empty"),
    "data_is_binary": Row(["run", "--data", "{png}"], "binary content (NUL bytes)"),
    "data_is_a_fifo": Row(["run", "--data", "{fifo}"], "--data file is a FIFO"),
    "synthetic_rows_negative": Row(
        ["run", "--synthetic-rows", "-5"], "--synthetic-rows must be a whole number"
    ),
    "synthetic_rows_beyond_memory": Row(
        ["run", "--synthetic-rows", "1000000000000"],
        "--synthetic-rows 1,000,000,000,000 needs about",
        no_real_file=True,
    ),
    "work_dir_flag_is_a_file": Row(["run", "--work-dir", "{file}"], "--work-dir {file} is a file"),
    "out_alias_unwritable": Row(["run", "--out", "/proc/ccseg-out"], "cannot be created in /proc"),
    "work_dir_variable_is_a_file": Row(
        ["run"], "CCSEG_WORK_DIR {file} is a file", {"CCSEG_WORK_DIR": "{file}"}
    ),
    "tracking_uri_garbage": Row(
        ["run"], "MLFLOW_TRACKING_URI='garbage' is not", {"MLFLOW_TRACKING_URI": "garbage"}
    ),
    "tracking_server_absent": Row(
        ["run"],
        "MLFLOW_TRACKING_URI=http://127.0.0.1:{closed}: no MLflow server answers",
        {"MLFLOW_TRACKING_URI": "http://127.0.0.1:{closed}"},
    ),
    "dask_address_garbage": Row(
        ["run", "--dask-address", "garbage"], "--dask-address 'garbage' is not"
    ),
    "dask_scheduler_absent": Row(
        ["run", "--dask-address", "tcp://127.0.0.1:{closed}"], "no Dask scheduler answers"
    ),
    "dask_setting_scheduler_absent": Row(
        ["run"], "no Dask scheduler answers", {"CCSEG_DASK_ADDRESS": "tcp://127.0.0.1:{closed}"}
    ),
    "grid_unknown_feature_set": Row(
        ["run", "--grid", '{"feature_sets": ["vibes"], "algorithms": []}'], "vibes"
    ),
    "validate_out_unwritable": Row(
        ["validate", "{good}", "--out", "/proc/ccseg-out"], "--out /proc/ccseg-out cannot"
    ),
    "validate_fifo": Row(["validate", "{fifo}", "--out", "{tmp}/out"], "file is a FIFO"),
    "validate_folder": Row(["validate", "{folder}", "--out", "{tmp}/out"], "is a directory"),
    "score_out_is_a_folder": Row(
        ["score", "--data", "{good}", "--out", "{folder}"], "--out {folder} is a folder"
    ),
    "score_without_a_store": Row(
        ["score", "--data", "{good}", "--out", "{tmp}/scored.csv"], "no MLflow store at"
    ),
    "score_without_a_champion": Row(
        ["score", "--data", "{good}", "--out", "{tmp}/scored.csv"],
        "no champion model models:/cc-segmentation@champion",
        {"CCSEG_WORK_DIR": "{store_only}"},
    ),
    "score_data_missing": Row(
        ["score", "--data", "{missing}", "--out", "{tmp}/scored.csv"], "--data file not found"
    ),
    "watch_empty_pattern": Row(
        ["watch", "--landing", "{folder}", "--pattern", ""], "--pattern is empty"
    ),
    "watch_state_file_is_a_folder": Row(
        ["watch", "--landing", "{folder}", "--state-file", "{tmp}"], "--state-file {tmp} is a"
    ),
    "notify_missing_file": Row(["notify", "{missing}"], "{missing}: file not found"),
    "fake_bedrock_busy_port": Row(
        ["chatbot", "fake-bedrock", "--port", "{busy}"], "--port {busy}: 127.0.0.1:{busy} is"
    ),
    "fake_bedrock_invalid_port": Row(
        ["chatbot", "fake-bedrock", "--port", "70000"], "--port 70000: a port is 0-65535"
    ),
    "serve_invalid_port": Row(["chatbot", "serve", "--port", "70000"], "--port 70000: the service"),
    "synth_rows_beyond_memory": Row(
        ["synth", "--rows", "1000000000000", "--out", "{tmp}/x.csv"], "--rows 1,000,000,000,000"
    ),
    "synth_rows_negative": Row(
        ["synth", "--rows", "-5", "--out", "{tmp}/x.csv"], "--rows must be a whole number"
    ),
}


def _snapshot(root: Path) -> dict[str, int]:
    """Every entry under root with its size (folders 0): 'nothing written' is an equal snapshot."""
    return {
        str(path.relative_to(root)): path.lstat().st_size if path.is_file() else 0
        for path in root.rglob("*")
    }


@pytest.fixture(scope="module")
def store_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder whose MLflow store exists but holds no model (made once: ~5 s)."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("store_only")
    MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder


@pytest.fixture
def place(tmp_path: Path, store_only: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    root = tmp_path / "cwd"
    root.mkdir()
    write_synthetic(40, 0, root / "good.csv")
    (root / "empty.csv").write_bytes(b"")
    (root / "image.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    os.mkfifo(root / "pipe.csv")
    (root / "a_folder").mkdir()
    (root / "a_file.txt").write_text("keep me\n")
    for name in ("CCSEG_DATA_PATH", "CCSEG_WORK_DIR", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(root)
    with socket.socket() as closed, socket.socket() as busy:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield Place(root, closed_port, busy.getsockname()[1], store_only)


def _flow_run_count() -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.count_flow_runs()


def _fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


@pytest.mark.parametrize("kind", ROWS)
def test_bad_input_fails_before_prefect_with_one_line_and_nothing_written(
    kind: str,
    place: Place,
    prefect_api: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    row, values = ROWS[kind], place.values()
    for name, value in row.env.items():
        monkeypatch.setenv(name, _fill(value, values))
    if row.no_real_file:
        monkeypatch.setattr("tasks.data.source.DEFAULT_DATA_PATH", place.root / "absent.csv")
    before, runs_before = _snapshot(place.root), _flow_run_count()

    code = main([_fill(arg, values) for arg in row.argv])

    captured = capsys.readouterr()
    assert code == row.exit_code
    assert len(captured.err.splitlines()) == 1, captured.err
    assert captured.err.startswith("ccseg: error: ")
    assert _fill(row.names, values) in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert _snapshot(place.root) == before
    assert _flow_run_count() == runs_before  # the check ran before Prefect started


def test_the_table_covers_every_command_that_takes_input() -> None:
    commands = {row.argv[0] for row in ROWS.values()}
    assert commands >= {"run", "validate", "score", "watch", "notify", "chatbot", "synth"}


HELP_AND_VERSION: dict[str, Callable[[str], bool]] = {
    "-h": lambda out: out.startswith("Usage: ccseg [OPTIONS] COMMAND"),
    "--help": lambda out: out.startswith("Usage: ccseg [OPTIONS] COMMAND"),
    "--version": lambda out: out.strip().startswith("ccseg 0."),
}


@pytest.mark.parametrize("flag", HELP_AND_VERSION)
def test_short_help_and_version_work(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([flag])

    captured = capsys.readouterr()
    assert code == 0
    assert HELP_AND_VERSION[flag](captured.out)
    assert captured.err == ""


# As a user runs it: the console script in its own process, with its own empty PREFECT_HOME.
PROCESS_ROWS: dict[str, Row] = {
    "typo_in_data": Row(["run", "--data", "{missing}"], "{missing}: --data file not found"),
    "prefect_api_absent": Row(
        ["watch", "--landing", "{folder}"],
        "PREFECT_API_URL=http://127.0.0.1:{closed}/api: no Prefect server answers",
        {"PREFECT_API_URL": "http://127.0.0.1:{closed}/api"},
    ),
}


@pytest.mark.parametrize("kind", PROCESS_ROWS)
def test_the_console_script_fails_before_prefect_creates_its_database(
    kind: str, place: Place, tmp_path: Path
) -> None:
    row, values = PROCESS_ROWS[kind], place.values()
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CCSEG_"))}
    env |= {"PREFECT_HOME": str(home)} | {k: _fill(v, values) for k, v in row.env.items()}
    script = Path(sys.executable).with_name("ccseg")
    before = _snapshot(place.root)

    finished = subprocess.run(
        [str(script), *(_fill(arg, values) for arg in row.argv)],
        cwd=place.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert finished.returncode == 2
    lines = finished.stderr.splitlines()
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith("ccseg: error: ")
    assert _fill(row.names, values) in lines[0]
    assert finished.stdout == ""
    assert not (home / "prefect.db").exists()  # Prefect's server never started
    assert _snapshot(place.root) == before
