"""The services under test: started as subprocesses on free loopback ports, or an existing URL.

With `start=True` the fake Bedrock (`python -m chatbot.cli fake-bedrock`) and the chat service
(`python -m chatbot.cli serve`) run as child processes of their own process group, logging to a
temporary folder; they are stopped on every way out of the `with` block: success, an error,
Ctrl-C, SIGTERM, or the interpreter exiting. All the environment the chat service gets is in
`chat_service_environment`, the one place to change when its settings change.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.errors import CcsegError, ParameterError
from core.settings import PROJECT_ROOT
from tasks.loadtest.driver import require_loopback
from tasks.loadtest.settings import DEFAULT_CHAT_URL, LoadTestSettings

_FAKE_URL = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
_STOP_GRACE_SECONDS = 10.0
_PORT_ATTEMPTS = 3


class ServiceStartError(CcsegError):
    """A service to load-test did not start; the message names its last log line."""


@dataclass(frozen=True)
class ServiceTarget:
    """Where to send the load, and what was started for it (empty when nothing was)."""

    base_url: str
    description: dict[str, Any] = field(default_factory=dict)
    pids: tuple[int, ...] = ()


def chat_service_environment(
    settings: LoadTestSettings, fake_bedrock_url: str, port: int
) -> dict[str, str]:
    """Every variable the started chat service gets (beyond PATH and the like)."""
    return {
        # The AWS SDK's own variables: the fake as endpoint, dummy keys through the default chain.
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake_bedrock_url,
        "AWS_ACCESS_KEY_ID": "loadtest-dummy-key-id",
        "AWS_SECRET_ACCESS_KEY": "loadtest-dummy-secret",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "CHATBOT_HOST": "127.0.0.1",
        "CHATBOT_PORT": str(port),
        # The load test plays the site's one proxy: X-Forwarded-For carries the simulated
        # visitors' addresses, so per-IP limits see many clients rather than 127.0.0.1.
        "CHATBOT_TRUSTED_PROXY_HOPS": "1",
        # Browsers on the pages' site send this Origin; widget tokens go to allowed origins only.
        "CHATBOT_CORS_ALLOW_ORIGINS": settings.origin,
        # Every question carries a widget token, as in production: a key made for this run only,
        # and room for every simulated session to get its token (the default allows 20 a
        # minute per address, and two sessions share one).
        "CHATBOT_REQUIRE_TOKEN": "true",
        "CHATBOT_TOKEN_SIGNING_KEY": secrets.token_urlsafe(48),
        "CHATBOT_SESSION_GRANT_RATE_LIMIT": "600/minute",
        "CHATBOT_LOG_LEVEL": "WARNING",
        **settings.service_env,
    }


def fake_bedrock_arguments(settings: LoadTestSettings) -> list[str]:
    """`ccseg chatbot fake-bedrock` options for the model the settings describe."""
    arguments = ["--port", "0", "--latency-ms", f"{settings.model_latency_ms:g}"]
    arguments += ["--seed", str(settings.seed)]
    if settings.model_latency_p99_ms is not None:
        arguments += ["--latency-p99-ms", f"{settings.model_latency_p99_ms:g}"]
    if settings.model_requests_per_minute is not None:
        arguments += ["--requests-per-minute", str(settings.model_requests_per_minute)]
    if settings.model_tokens_per_minute is not None:
        arguments += ["--tokens-per-minute", str(settings.model_tokens_per_minute)]
    for kind, rate in settings.model_faults.items():
        arguments += ["--fault", f"{kind}={rate:g}"]
    return arguments


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _inherited_environment() -> dict[str, str]:
    # The operator's own CHATBOT_* and AWS_* (real credentials, profiles) never reach the
    # services under test: they run exactly as configured here.
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CHATBOT_", "AWS_"))
    }


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


class StartedProcesses:
    """The child processes of one load test; `stop_all` ends them, the chat service first."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, arguments: list[str], env: dict[str, str]) -> Path:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as output:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "chatbot.cli", *arguments],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    # Its own group: a terminal's Ctrl-C reaches us, and we stop it in order.
                    start_new_session=True,
                )
            )
        return log

    def start_fake_bedrock(self, settings: LoadTestSettings) -> str:
        env = _inherited_environment()
        log = self.spawn("fake-bedrock", ["fake-bedrock", *fake_bedrock_arguments(settings)], env)
        process = self.processes[-1]
        deadline = time.monotonic() + settings.services_ready_seconds
        while time.monotonic() < deadline:
            if match := _FAKE_URL.search(log.read_text(errors="replace")):
                return match.group(1)
            if process.poll() is not None:
                break
            time.sleep(0.05)
        raise ServiceStartError(f"fake Bedrock did not start: {_last_line(log)} (log: {log})")

    def start_chat_service(
        self, settings: LoadTestSettings, fake_bedrock_url: str
    ) -> tuple[str, dict[str, str]]:
        """Start the chat service on a free port (another one if that was taken meanwhile)."""
        attempt = 0
        while True:
            attempt += 1
            port = free_loopback_port()
            env = chat_service_environment(settings, fake_bedrock_url, port)
            log = self.spawn(f"chat-service-{attempt}", ["serve"], _inherited_environment() | env)
            url = f"http://127.0.0.1:{port}"
            if wait_until_ready(url, self.processes[-1], settings.services_ready_seconds):
                return url, env
            in_use = "address already in use" in log.read_text(errors="replace").lower()
            if not in_use or attempt == _PORT_ATTEMPTS:
                raise ServiceStartError(
                    f"chat service did not become ready: {_last_line(log)} (log: {log})"
                )

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=_STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.processes.clear()


def wait_until_ready(url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Poll `/readyz` until it answers 200; False if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=1.0, trust_env=False) as client:
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/readyz").status_code == 200:
                    return True
            time.sleep(0.1)
    return False


def require_answering(base_url: str) -> None:
    """A target given by URL must answer before any load is planned against it."""
    try:
        with httpx.Client(base_url=base_url, timeout=3.0, trust_env=False) as client:
            client.get("/healthz")
    except httpx.HTTPError as error:
        raise ParameterError(
            f"nothing answers at {base_url} ({type(error).__name__}): start it with "
            "`ccseg chatbot serve` or pass --start-services"
        ) from None


@contextlib.contextmanager
def _sigterm_raises_interrupt() -> Iterator[None]:
    """SIGTERM (a worker cancelling the run) unwinds like Ctrl-C, so cleanup code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def chat_services(
    settings: LoadTestSettings,
    base_url: str | None = None,
    start: bool = False,
    allow_remote: bool = False,
) -> Iterator[ServiceTarget]:
    """The target to load: the started services for the block's duration, or `base_url`."""
    if not start:
        url = base_url or DEFAULT_CHAT_URL
        require_loopback(url, allow_remote)
        require_answering(url)
        yield ServiceTarget(url)
        return
    if base_url is not None:
        raise ParameterError("pass either a base URL or start_services, not both")
    log_dir = Path(tempfile.mkdtemp(prefix="ccseg-loadtest-services-"))
    processes = StartedProcesses(log_dir)
    atexit.register(processes.stop_all)
    keep_logs = False  # only a service that failed to start needs its log read
    try:
        with _sigterm_raises_interrupt():
            try:
                fake_url = processes.start_fake_bedrock(settings)
                chat_url, env = processes.start_chat_service(settings, fake_url)
            except ServiceStartError:
                keep_logs = True
                raise
            yield ServiceTarget(
                chat_url,
                {
                    "chat_service_env": {k: v for k, v in env.items() if k.startswith("CHATBOT_")},
                    "fake_bedrock": {
                        "latency_ms": settings.model_latency_ms,
                        "latency_p99_ms": settings.model_latency_p99_ms,
                        "requests_per_minute": settings.model_requests_per_minute,
                        "tokens_per_minute": settings.model_tokens_per_minute,
                        "faults": dict(settings.model_faults),
                    },
                },
                tuple(process.pid for process in processes.processes),
            )
    finally:
        processes.stop_all()
        atexit.unregister(processes.stop_all)
        if not keep_logs:
            shutil.rmtree(log_dir, ignore_errors=True)
