"""Service checks: malformed addresses, silent servers and busy ports are named, within seconds."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ccseg.services import (
    check_dask_address,
    check_port_free,
    check_prefect_api,
    check_tracking_uri,
)
from core.errors import ParameterError, UnreachableError


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path.endswith("/health") else 404
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """A real HTTP server on a free loopback port that answers /health."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("uri", ["garbage", "file:///tmp/mlruns", "ftp://host/x", "./mlruns"])
def test_a_tracking_uri_mlflow_cannot_use_names_the_variable(uri: str) -> None:
    with pytest.raises(ParameterError) as raised:
        check_tracking_uri(uri, None)

    assert str(raised.value).startswith(f"MLFLOW_TRACKING_URI={uri!r} is not a tracking URI")


def test_an_http_tracking_uri_without_a_host_is_refused() -> None:
    with pytest.raises(ParameterError, match="has no host"):
        check_tracking_uri("http:///api", None)


def test_a_tracking_server_that_is_not_there_fails_in_one_short_check(closed_port: int) -> None:
    uri = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(UnreachableError, match=rf"MLFLOW_TRACKING_URI={uri}: no MLflow server"):
        check_tracking_uri(uri, None)


def test_a_tracking_server_that_answers_passes(http_server: str) -> None:
    check_tracking_uri(http_server, None)


def test_a_sqlite_store_whose_folder_cannot_be_made_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    database = tmp_path / "a_file" / "mlflow.db"

    with pytest.raises(ParameterError, match="store's folder"):
        check_tracking_uri(f"sqlite:///{database}", database)


def test_a_sqlite_store_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="exists and is not a file"):
        check_tracking_uri(f"sqlite:///{tmp_path}", tmp_path)


@pytest.mark.parametrize("address", ["garbage", "tcp://", "tcp://host:port", "http://h:8786"])
def test_a_malformed_dask_address_is_refused(address: str) -> None:
    with pytest.raises(ParameterError, match=r"--dask-address .* is not a Dask scheduler address"):
        check_dask_address(address)


def test_a_dask_scheduler_that_is_not_there_is_named(closed_port: int) -> None:
    expected = f"no Dask scheduler answers at 127.0.0.1:{closed_port}"
    with pytest.raises(UnreachableError, match=expected):
        check_dask_address(f"tcp://127.0.0.1:{closed_port}")


@pytest.mark.parametrize("form", ["tcp://127.0.0.1:{port}", "127.0.0.1:{port}"])
def test_a_listening_scheduler_address_passes(form: str, listening_port: int) -> None:
    check_dask_address(form.format(port=listening_port))


def test_a_prefect_api_that_is_not_there_names_the_variable(closed_port: int) -> None:
    with pytest.raises(UnreachableError, match=r"PREFECT_API_URL=.*: no Prefect server answers"):
        check_prefect_api(f"http://127.0.0.1:{closed_port}/api")


def test_a_prefect_api_that_answers_passes(http_server: str) -> None:
    check_prefect_api(f"{http_server}/api")


def test_a_busy_port_is_named_as_the_flag(listening_port: int) -> None:
    with pytest.raises(ParameterError, match=f"--port {listening_port}: .* is already in use"):
        check_port_free("127.0.0.1", listening_port)


@pytest.mark.parametrize("port", [-1, 65536, 99999])
def test_a_port_out_of_range_is_named_as_the_flag(port: int) -> None:
    with pytest.raises(ParameterError, match=f"--port {port}: a port is 0-65535"):
        check_port_free("127.0.0.1", port)


def test_a_free_port_passes(closed_port: int) -> None:
    check_port_free("127.0.0.1", closed_port)
