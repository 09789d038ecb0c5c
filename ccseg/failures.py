"""How failures reach the user: `ccseg: error: ...`, one line, for every command.

Prefect logs a failed task or flow run at ERROR with its traceback, then "Finished in state
Failed(...)", through its `prefect.task_runs` and `prefect.flow_runs` loggers; there is no
setting for "this exception is the user's, not a bug" (the usual answer is a logging filter,
e.g. opsmill/infrahub#9777). `UserErrorLogFilter` demotes those records to DEBUG when the
exception is a `CcsegError`, so the CLI's own line is the only one the user sees, and the
detail is still there with PREFECT_LOGGING_LEVEL=DEBUG. Any other exception keeps its traceback.
"""

from __future__ import annotations

import logging
import threading

from core.errors import CcsegError

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
_FINISHED_FAILED = "Finished in state Failed"


class UserErrorLogFilter(logging.Filter):
    """Demote a run's failure records to DEBUG when a `CcsegError` caused the failure."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self._logger = logger
        self._lock = threading.Lock()
        self._failed_by_user: set[str] = set()

    @staticmethod
    def _run_id(record: logging.LogRecord) -> str | None:
        run_id = getattr(record, "task_run_id", None) or getattr(record, "flow_run_id", None)
        return str(run_id) if run_id else None

    def _is_users_failure(self, record: logging.LogRecord) -> bool:
        exception = record.exc_info[1] if record.exc_info else None
        if isinstance(exception, CcsegError):
            # A task's user error fails its flow too: both runs' "Finished in state Failed" go.
            ids = (getattr(record, "task_run_id", None), getattr(record, "flow_run_id", None))
            with self._lock:
                self._failed_by_user.update(str(i) for i in ids if i)
            return True
        run_id = self._run_id(record)
        if run_id is None or not str(record.msg).startswith(_FINISHED_FAILED):
            return False
        with self._lock:
            return run_id in self._failed_by_user

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG or not self._is_users_failure(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self._logger.isEnabledFor(logging.DEBUG)


def quiet_user_errors_in_run_logs() -> None:
    """Install the filter on Prefect's run loggers (once per process)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, UserErrorLogFilter) for f in logger.filters):
            logger.addFilter(UserErrorLogFilter(logger))


def error_line(message: str) -> str:
    """The one form every failure takes on stderr."""
    first = " ".join(str(message).split())  # never more than one line
    return f"ccseg: error: {first}"
