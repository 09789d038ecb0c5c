"""The driver's test server (fixed_latency_server.py) as a fixture: own process, always stopped."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVER_SCRIPT = Path(__file__).with_name("fixed_latency_server.py")


@dataclass
class ServedChat:
    url: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, Any]:
        """What the server saw: counters, issued tokens, forwarded addresses."""
        return httpx.get(f"{self.url}/stats", timeout=10, trust_env=False).json()


def _start(behaviour: dict[str, Any]) -> ServedChat:
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), json.dumps(behaviour)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("port "):
        process.kill()
        raise RuntimeError(f"test chat server did not start: {line!r}")
    url = f"http://127.0.0.1:{int(line.split()[1])}"
    for _ in range(400):  # at most 40 s on a busy machine
        try:
            httpx.get(f"{url}/stats", timeout=1, trust_env=False)
            return ServedChat(url, process)
        except httpx.HTTPError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("test chat server did not answer")


@pytest.fixture
def serve_chat() -> Iterator[Callable[..., ServedChat]]:
    """`serve_chat(latency_seconds=0.2, ...)` starts a server; all are stopped after the test."""
    started: list[ServedChat] = []

    def serve(**behaviour: Any) -> ServedChat:
        started.append(_start(behaviour))
        return started[-1]

    try:
        yield serve
    finally:
        for served in started:
            served.process.terminate()
            try:
                served.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                served.process.kill()
                served.process.wait()
