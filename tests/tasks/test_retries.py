"""Retry policy: transient failures retry, the user's own mistakes fail at once."""

from __future__ import annotations

from prefect import flow, task
from prefect.states import Failed

from core.errors import FileLevelError, ParameterError
from tasks.retries import retry_unless_user_error


def test_user_errors_are_not_retried_and_other_failures_are():
    assert not retry_unless_user_error(None, None, Failed(data=FileLevelError("x.csv", "empty")))
    assert not retry_unless_user_error(None, None, Failed(data=ParameterError("bad model uri")))
    assert retry_unless_user_error(None, None, Failed(data=OSError("disk hiccup")))


def test_a_task_with_retries_runs_once_on_a_user_error_and_again_on_io(prefect_api):
    attempts: list[str] = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_unless_user_error)
    def fails_with(kind: str) -> None:
        attempts.append(kind)
        raise FileLevelError("x.csv", "empty") if kind == "user" else OSError("disk hiccup")

    @flow
    def attempt(kind: str) -> None:
        fails_with(kind)

    for kind in ("user", "io"):
        state = attempt(kind, return_state=True)
        assert state.is_failed()
    assert attempts == ["user", "io", "io", "io"]
