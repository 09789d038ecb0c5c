"""When a Prefect task may retry: on transient failures, never on the user's own mistakes."""

from __future__ import annotations

from typing import Any

from core.errors import CcsegError


def retry_unless_user_error(task: Any, task_run: Any, state: Any) -> bool:
    """A `retry_condition_fn`: a bad file or parameter (CcsegError) fails at once, with its line.

    Prefect retries every failure when a task has `retries` and no condition, so an empty CSV
    or a wrong model URI would otherwise wait through every retry delay before being reported.
    """
    return not isinstance(state.result(raise_on_failure=False), CcsegError)
