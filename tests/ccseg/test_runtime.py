"""The temporary Prefect server's head start: one server, booted early, and silent when unused."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tasks.data.synthetic import write_synthetic

REPO = Path(__file__).resolve().parents[2]


def _env_without_a_server(tmp_path: Path) -> dict[str, str]:
    """No PREFECT_API_URL, so Prefect would boot a temporary server; a PREFECT_HOME of our own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    return env | {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PYTHONPATH": str(REPO)}


def _processes_using(prefect_home: Path) -> list[int]:
    """Live processes started with this PREFECT_HOME (the server inherits the command's env)."""
    marker = f"PREFECT_HOME={prefect_home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue  # gone, or not ours to read
    return found


def test_the_flow_uses_the_server_booted_ahead_and_boots_no_other(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import psutil
        from ccseg.runtime import TemporaryServerHeadStart, apply_prefect_defaults

        def servers():
            return sorted(
                p.pid for p in psutil.Process().children(recursive=True)
                if "prefect.server.api.server:create_app" in " ".join(p.cmdline())
            )

        apply_prefect_defaults()
        head_start = TemporaryServerHeadStart().begin()
        head_start.ready()
        before = servers()
        from prefect import flow
        from prefect.client.orchestration import get_client

        @flow
        def api_of_the_run() -> str:
            with get_client(sync_client=True) as client:
                return str(client.api_url)

        print("flow api:", api_of_the_run())
        print("servers before the flow:", len(before), "the same after:", servers() == before)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env_without_a_server(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "flow api: http://127.0.0.1:" in done.stdout, done.stdout
    # Booted before the flow was even defined, and Prefect booted no second one for it.
    assert "servers before the flow: 1 the same after: True" in done.stdout, done.stdout
    assert _processes_using(tmp_path / "prefect-home") == []  # and it stopped at exit


def test_a_command_failing_its_checks_stops_the_early_server_and_prints_one_line(
    tmp_path: Path,
) -> None:
    write_synthetic(40, 0, tmp_path / "batch.csv")
    work = tmp_path / "no-store-here"
    work.mkdir()
    env = _env_without_a_server(tmp_path) | {"CCSEG_WORK_DIR": str(work)}

    done = subprocess.run(
        [sys.executable, "-m", "ccseg.cli", "score", "--data", "batch.csv", "--out", "s.csv"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccseg: error: no MLflow store at"), lines
    assert _processes_using(tmp_path / "prefect-home") == []
