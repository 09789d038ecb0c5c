"""Embedded defaults for Prefect's own settings, applied once before a flow runs."""

from __future__ import annotations

import logging
import os
import threading

# Ephemeral Prefect takes 10-15 s to start on a 2-core machine; its default start-up timeout
# (20 s) is too tight. Analytics off avoids "database is locked" noise. setdefault: a user's
# explicit value always wins.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "mlflow",
}


def apply_prefect_defaults() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


class _TemporaryServerLines(logging.Filter):
    """Drops Prefect's "Starting/Stopping temporary server" lines while a head start is unsure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Starting temporary server", "Stopping temporary"))


class TemporaryServerHeadStart:
    """Prefect's temporary server, booted while the command imports and checks its input.

    Without an API URL, Prefect boots a temporary server (a subprocess: 7-15 s on 2 cores) only
    when the flow is called, and the command waits. Started here, it boots on the other core
    during the command's imports and preflight (~12 s for `ccseg score`). `ready()` before the
    flow (the flow then finds it running); `abandon()` when the command stops before its flow:
    the server is stopped and neither line of it reaches the user's terminal, which shows only
    the error.
    """

    def __init__(self) -> None:
        self._server = None
        self._thread: threading.Thread | None = None
        self._quiet = _TemporaryServerLines()

    def begin(self) -> TemporaryServerHeadStart:
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        if settings.api.url or not settings.server.ephemeral.enabled:
            return self  # a real server, or none: nothing to boot
        # Imported here, not in the thread: two threads importing one package can deadlock.
        from prefect.server.api.server import SubprocessASGIServer

        self._server = SubprocessASGIServer()
        logging.getLogger("prefect").addFilter(self._quiet)
        self._thread = threading.Thread(target=self._start, name="prefect-head-start", daemon=True)
        self._thread.start()
        return self

    def _start(self) -> None:
        try:
            self._server.start()  # type: ignore[union-attr]
        except Exception:
            return  # the flow's own start tries again, and reports a failure in Prefect's words

    def ready(self) -> None:
        """Wait for the boot; the flow's own start then returns at once (or retries a failure)."""
        if self._thread is None:
            return
        self._thread.join()
        logging.getLogger("prefect").removeFilter(self._quiet)
        if self._server is not None and self._server.running:
            logging.getLogger("prefect").info(
                "Started temporary server on %s (booted during the command's checks)",
                self._server.address,
            )

    def abandon(self) -> None:
        """Stop the server without a word: the command failed before its flow."""
        if self._server is None:
            return
        process = self._server.server_process
        if process is not None:
            process.kill()  # not terminate: a server stopped mid-boot prints a traceback
        self._server.stop()
