"""The unattended loop on real servers: `prefect server`, `mlflow server` with the artifact proxy,
`prefect --no-prompt deploy --all` from the project's own prefect.yaml, a process worker, and a
webhook receiver for the alerts. All on free loopback ports with temporary homes, always stopped.

Runs use a tiny grid through CCSEG_EVENT_GRID in the worker's environment, as an operator would.
The tests share the servers and run in file order: the first makes the champion the others use.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.workers.process import ProcessWorker

from tasks.data.synthetic import generate_synthetic

# Server start-up is slow on a busy machine and counts toward the first test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL_NAME = "cc-segmentation"
TRAINING_ROWS = 2_000  # a random half of fewer rows varies enough to warn
START_TIMEOUT_SECONDS = 300  # the first mlflow server start creates its schema: slow when busy
RUN_TIMEOUT_SECONDS = 420
TINY_GRID = {
    "feature_sets": ["log_scaled"],
    "algorithms": [{"name": "kmeans", "ks": [3]}],
    "seeds": [0],
    "stability_resamples": 10,
    "silhouette_sample_size": 500,
    "finalists": {"count": 1, "seeds": 1, "resamples": 50, "n_init": 2},
}


class WebhookReceiver(ThreadingHTTPServer):
    """The alert target: keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def texts(self) -> list[str]:
        return [str(b.get("text", "")) for b in list(self.bodies)]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Loop:
    api_url: str
    tracking_uri: str
    artifacts_dir: Path
    work_dir: Path
    landing: Path
    receiver: WebhookReceiver
    processes: list[subprocess.Popen] = field(default_factory=list)

    def client(self) -> PrefectClient:
        return PrefectClient(api=self.api_url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # SIGINT back to default: a worker started from a process that ignores it would not stop on
    # SIGTERM (docs/operations.md, "Stopping a worker").
    return subprocess.Popen(
        command,
        env=env,
        cwd=REPO_ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"{url} not healthy after {START_TIMEOUT_SECONDS} s: {log.read_text()[-2000:]}")


def wait_for_line(log: Path, text: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while text not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"worker did not start: {log.read_text()[-2000:]}")
        time.sleep(1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_cli(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.fixture(scope="session")
def loop() -> Iterator[Loop]:
    """Both servers, the deployments, the alerts and one process worker; stopped at the end."""
    home = Path(tempfile.mkdtemp(prefix="ccseg-loop-"))
    prefect_port, mlflow_port = free_port(), free_port()
    receiver = WebhookReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    state = Loop(
        api_url=f"http://127.0.0.1:{prefect_port}/api",
        tracking_uri=f"http://127.0.0.1:{mlflow_port}",
        artifacts_dir=home / "mlflow-artifacts",
        work_dir=home / "work",
        landing=home / "landing",
        receiver=receiver,
    )
    for folder in (state.work_dir, state.landing):
        folder.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    base = {k: v for k, v in base.items() if not k.startswith("CCSEG_")}
    server_env = base | {
        "PREFECT_HOME": str(home / "prefect-server"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    client_env = base | {
        "PREFECT_HOME": str(home / "prefect-client"),
        "PREFECT_API_URL": state.api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    try:
        prefect_log, mlflow_log = home / "prefect.log", home / "mlflow.log"
        prefect_server = start(
            [
                *(str(BIN / "prefect"), "server", "start"),
                *("--host", "127.0.0.1", "--port", str(prefect_port)),
            ],
            server_env,
            prefect_log,
        )
        state.processes.append(prefect_server)
        mlflow_server = start(
            [
                *(str(BIN / "mlflow"), "server", "--host", "127.0.0.1"),
                *("--port", str(mlflow_port), "--workers", "1"),
                *("--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}"),
                *("--artifacts-destination", str(state.artifacts_dir)),
            ],
            base,
            mlflow_log,
        )
        state.processes.append(mlflow_server)
        wait_healthy(f"{state.api_url}/health", prefect_server, prefect_log)

        # What `make deploy` does, the pool and queue through the API (a CLI call costs a
        # Prefect import each); the worker starts while `deploy --all` runs.
        asyncio.run(_create_pool_and_queue(state.api_url))
        worker_log = home / "worker.log"
        worker_env = client_env | {
            "PREFECT_HOME": str(home / "prefect-worker"),
            "MLFLOW_TRACKING_URI": state.tracking_uri,
            "CCSEG_PROJECT_DIR": str(REPO_ROOT),
            "CCSEG_WORK_DIR": str(state.work_dir),
            "CCSEG_EVENT_GRID": json.dumps(TINY_GRID),
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
        worker = start(
            [str(BIN / "prefect"), "worker", "start", "--pool", "ccseg-process"],
            worker_env,
            worker_log,
        )
        state.processes.append(worker)
        run_cli([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], client_env)
        set_up_alerts_on(state.api_url, f"http://127.0.0.1:{receiver.server_port}/")
        wait_healthy(f"{state.tracking_uri}/health", mlflow_server, mlflow_log)
        wait_for_line(worker_log, "started!", worker)
        yield state
    finally:
        for process in reversed(state.processes):  # worker first, servers last
            stop(process)
        receiver.shutdown()
        receiver.server_close()


async def _create_pool_and_queue(api_url: str) -> None:
    async with PrefectClient(api=api_url) as client:
        await client.create_work_pool(
            WorkPoolCreate(
                name="ccseg-process",
                type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            )
        )
        await client.create_work_queue(
            name="segmentation", work_pool_name="ccseg-process", concurrency_limit=1
        )


def set_up_alerts_on(api_url: str, webhook_url: str) -> None:
    """`python -m ccseg.alerts`, in this process: the block and both automations."""
    from ccseg.alerts import set_up_alerts

    with pytest.MonkeyPatch.context() as patch, temporary_settings({PREFECT_API_URL: api_url}):
        patch.setenv("CCSEG_ALERT_WEBHOOK_URL", webhook_url)
        assert set_up_alerts().startswith("alerts: ccseg-run-failed and ccseg-drift notify")


def write_batch(path: Path, rows: int = TRAINING_ROWS, seed: int = 1, **scale: float) -> Path:
    clean = generate_synthetic(rows, seed)[0]
    for column, factor in scale.items():
        clean[column] = clean[column] * factor
    clean.to_csv(path, index=False)
    return path


async def _runs(loop: Loop, deployment: str) -> list[FlowRun]:
    async with loop.client() as client:
        return await client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
        )


def runs_for(loop: Loop, deployment: str, data_path: Path) -> list[FlowRun]:
    return [
        r
        for r in asyncio.run(_runs(loop, deployment))
        if r.parameters.get("data_path") == str(data_path.resolve())
    ]


def wait_for_final_run(loop: Loop, deployment: str, data_path: Path) -> FlowRun:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        runs = runs_for(loop, deployment, data_path)
        if runs and runs[0].state is not None and runs[0].state.is_final():
            return runs[0]
        time.sleep(3)
    pytest.fail(f"no finished {deployment} run for {data_path} in {RUN_TIMEOUT_SECONDS} s")


def announce(loop: Loop, path: Path) -> None:
    from flows.data_watch import notify

    with temporary_settings({PREFECT_API_URL: loop.api_url}):
        notify(path)


async def _run_scoring(loop: Loop, data_path: Path, output_path: Path) -> None:
    async with loop.client() as client:
        deployment = await client.read_deployment_by_name("scoring/scoring")
        await client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"data_path": str(data_path.resolve()), "output_path": str(output_path)},
        )


async def _logs(loop: Loop, flow_run_ids: list[Any]) -> list[str]:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async with loop.client() as client:
        logs = await client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)), limit=200
        )
        return [entry.message for entry in logs]


async def _child_runs(loop: Loop, parent: FlowRun) -> list[FlowRun]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    async with loop.client() as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )


async def _drift_artifacts(loop: Loop, run: FlowRun) -> tuple[Any, Any]:
    """The scoring run's drift table and figure, as Prefect stored them."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with loop.client() as client:
        children = await _child_runs(loop, run)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[run.id, *(c.id for c in children)])
            )
        )
    by_key = {a.key: a for a in artifacts}
    table = by_key["ccseg-drift"]
    data = json.loads(table.data) if isinstance(table.data, str) else table.data
    table.data = data
    return table, by_key["ccseg-drift-figure"]


def wait_for_alert(loop: Loop, text: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [t for t in loop.receiver.texts() if text in t]
        if found:
            return found[0]
        time.sleep(1)
    pytest.fail(f"no alert containing {text!r}; received: {loop.receiver.texts()}")


def champion_version(loop: Loop) -> str:
    client = MlflowClient(loop.tracking_uri)
    return client.get_model_version_by_alias(MODEL_NAME, "champion").version


def test_a_landed_file_with_no_champion_is_segmented_and_its_model_served_by_mlflow(
    loop: Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    training = write_batch(loop.landing / "training.csv")

    announce(loop, training)
    run = wait_for_final_run(loop, "on-new-data", training)

    assert run.state.is_completed(), run.state.message
    version = MlflowClient(loop.tracking_uri).get_model_version_by_alias(MODEL_NAME, "champion")
    # The model went through the server's proxy: on its disk, nothing on the worker's.
    assert list(loop.artifacts_dir.rglob("MLmodel"))
    assert not (loop.work_dir / "mlartifacts").exists()
    # Another working folder with nothing but the server's address loads and scores.
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(loop.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    scored = model.predict(generate_synthetic(20, 5)[0])
    assert len(scored) == 20 and version.version == "1"


def test_a_file_that_fails_the_contract_fails_its_run_with_the_reason_and_alerts(
    loop: Loop,
) -> None:
    broken = loop.landing / "broken.csv"
    generate_synthetic(60, 2)[0].assign(TENURE=0).to_csv(broken, index=False)

    announce(loop, broken)
    run = wait_for_final_run(loop, "on-new-data", broken)

    assert run.state.is_failed()
    assert "all 60 rows were quarantined (tenure_out_of_range 60)" in run.state.message
    children = asyncio.run(_child_runs(loop, run))
    logs = asyncio.run(_logs(loop, [run.id, *(c.id for c in children)]))
    assert any("all 60 rows were quarantined" in line for line in logs), logs
    alert = wait_for_alert(loop, f"on-new-data run {run.name} is Failed")
    assert "quarantined" in alert
    assert champion_version(loop) == "1"  # nothing promoted


def test_a_drifted_batch_retrains_and_an_undrifted_half_does_not(loop: Loop) -> None:
    drifted = write_batch(loop.work_dir / "drifted.csv", seed=1, BALANCE=1.8)
    half = loop.work_dir / "half.csv"
    pd.read_csv(loop.landing / "training.csv").sample(frac=0.5, random_state=1).to_csv(
        half, index=False
    )

    asyncio.run(_run_scoring(loop, drifted, loop.work_dir / "drifted_segments.csv"))
    asyncio.run(_run_scoring(loop, half, loop.work_dir / "half_segments.csv"))
    scored_drifted = wait_for_final_run(loop, "scoring", drifted)
    scored_half = wait_for_final_run(loop, "scoring", half)

    assert scored_drifted.state.is_completed(), scored_drifted.state.message
    assert scored_half.state.is_completed(), scored_half.state.message
    drift = json.loads((loop.work_dir / "drifted_segments.drift.json").read_text())
    none = json.loads((loop.work_dir / "half_segments.drift.json").read_text())
    assert drift["verdict"] == "drift" and drift["features"]["BALANCE"]["status"] == "drift"
    assert none["verdict"] == "none"
    table, figure = asyncio.run(_drift_artifacts(loop, scored_drifted))
    assert table.data[0]["column"] == "BALANCE" and table.data[0]["status"] == "drift"
    assert "data:image/png;base64," in figure.data and "Drift: **drift**" in figure.data
    retrain = wait_for_final_run(loop, "retrain-on-drift", drifted)
    assert retrain.state.is_completed(), retrain.state.message
    wait_for_alert(loop, f"ccseg drift: drift for {drifted.resolve()}")
    # By now the undrifted batch's event (sent at the same time) has long been processed.
    assert runs_for(loop, "retrain-on-drift", half) == []
    assert not [t for t in loop.receiver.texts() if str(half.resolve()) in t]
    assert len(runs_for(loop, "retrain-on-drift", drifted)) == 1  # the retrain started no other
