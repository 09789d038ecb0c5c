"""Embedded defaults for Prefect's own settings, applied once before a flow runs."""

from __future__ import annotations

import os

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
