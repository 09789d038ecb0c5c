"""Is a service there? A well-formed address first, then an answer within a short timeout.

A tracking server that is not there used to cost 266 s of MLflow retries and 289 lines; a Dask
address that is not one, 171 lines after the store was created. Each check here takes at most
`CONNECT_TIMEOUT_SECONDS` and names the setting or flag to fix.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from core.errors import ParameterError, UnreachableError
from core.paths import require_writable_dir

CONNECT_TIMEOUT_SECONDS = 2.0
ANSWER_TIMEOUT_SECONDS = 5.0
# Stores MLflow reaches through SQLAlchemy: well-formedness is all we can check without drivers.
DATABASE_SCHEMES = {"postgresql", "mysql", "mssql"}
TRACKING_SETTING = "MLFLOW_TRACKING_URI"


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {CONNECT_TIMEOUT_SECONDS:g} s"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def _answers(url: str) -> str | None:
    """None if something answers HTTP at `url` (any status below 500), else why not."""
    timeout = httpx.Timeout(ANSWER_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return _reason(exc)
    if response.status_code >= 500:
        return f"it answered HTTP {response.status_code}"
    return None


def check_tracking_uri(tracking_uri: str, sqlite_path: Path | None) -> None:
    """A URI MLflow can use: sqlite (folder writable), http(s) (a server answers), a database."""
    parts = urlsplit(tracking_uri)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite" and sqlite_path is not None:
        if sqlite_path.exists() and not sqlite_path.is_file():
            raise ParameterError(f"MLflow store {sqlite_path} exists and is not a file")
        require_writable_dir(sqlite_path.parent, "the MLflow store's folder")
        return
    if scheme in {"http", "https"}:
        if not parts.hostname:
            raise ParameterError(
                f"{TRACKING_SETTING}={tracking_uri!r} has no host; e.g. http://127.0.0.1:5000"
            )
        if problem := _answers(f"{tracking_uri.rstrip('/')}/health"):
            raise UnreachableError(
                f"{TRACKING_SETTING}={tracking_uri}: no MLflow server answers ({problem}); "
                f"start it (`mlflow server`), fix the URI, or unset {TRACKING_SETTING} to use "
                "mlflow.db in the working folder"
            )
        return
    if scheme in DATABASE_SCHEMES or scheme.startswith("databricks"):
        return
    raise ParameterError(
        f"{TRACKING_SETTING}={tracking_uri!r} is not a tracking URI MLflow can use here: give "
        "sqlite:///path/to/mlflow.db or http(s)://host:port, or unset it to use mlflow.db in "
        "the working folder"
    )


def check_dask_address(address: str) -> None:
    """`tcp://host:port` (or `host:port`, `tls://...`) where a scheduler accepts connections."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in {"tcp", "tls"} or not parts.hostname or port is None:
        raise ParameterError(
            f"--dask-address {address!r} is not a Dask scheduler address: give "
            "tcp://host:8786 (or host:8786), or leave it out to run the grid on threads"
        )
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        raise UnreachableError(
            f"--dask-address {address}: no Dask scheduler answers at {parts.hostname}:{port} "
            f"({exc.strerror or _reason(exc)}); start one (`dask scheduler`) or leave the flag "
            "out to run the grid on threads"
        ) from None


def check_prefect_api(api_url: str) -> None:
    """The Prefect server named by PREFECT_API_URL answers its health check."""
    if problem := _answers(f"{api_url.rstrip('/')}/health"):
        raise UnreachableError(
            f"PREFECT_API_URL={api_url}: no Prefect server answers ({problem}); start one "
            "(`prefect server start`) or fix PREFECT_API_URL"
        )


def check_port_free(host: str, port: int, flag: str = "--port") -> None:
    """A port in range that nothing listens on yet (0: the OS picks a free one)."""
    if not 0 <= port <= 65535:
        raise ParameterError(f"{flag} {port}: a port is 0-65535 (0 picks a free one)")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            # As the servers themselves do: a port left in TIME_WAIT is free to bind.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except socket.gaierror as exc:
        raise ParameterError(f"--host {host}: not an address to bind ({exc.strerror})") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ParameterError(
                f"{flag} {port}: {host}:{port} is already in use; pick another port "
                "(0 picks a free one)"
            ) from None
        raise ParameterError(f"--host {host} {flag} {port}: cannot bind ({exc.strerror})") from None
