"""Ctrl-C or SIGTERM during `ccseg run`: stop within seconds, say so in one line, leave no half run.

The grid fits its cells in worker threads, which Python cannot interrupt: a KeyboardInterrupt
unwinds through Prefect's task runner, which waits for every running cell (153 s measured), and
MLflow then records the parent run as FAILED. So the first signal freezes the flow where it
stands and ends the process after a bounded clean-up:

- the MLflow parent run and its unfinished child runs are marked KILLED;
- the Prefect flow run is marked Cancelled (best effort: an ephemeral server may be gone);
- the run's own folder is removed; `outputs/` and `reports/` still show the last complete run
  (publication is one atomic rename, `tasks/workdir/runs.py`, and is now refused);
- child processes (the ephemeral Prefect server) are stopped.

A second signal, or `CLEANUP_DEADLINE_SECONDS`, ends the process at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.settings import PipelineSettings

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
CLEANUP_DEADLINE_SECONDS = 15.0
CHILD_STOP_SECONDS = 3.0
KILL_SWEEPS = 5


def _active_parent_run_id() -> str | None:
    """The flow's MLflow parent run, if started (the flow runs in this, the main, thread)."""
    import mlflow

    run = mlflow.active_run()
    return run.info.run_id if run is not None else None


def _active_flow_run_id() -> str | None:
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None


def _mark_killed(settings: PipelineSettings, parent_run_id: str | None, since_ms: int) -> str:
    """KILLED on the parent run and its running children; returns what to tell the user."""
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is None:
        return "no MLflow run had started"
    if parent_run_id is None:
        # The flow had not reached its parent run from this thread's view: find ours by time
        # (the working folder's lock means no other run on this store started meanwhile).
        running = client.search_runs(
            [experiment.experiment_id],
            f"attributes.status = 'RUNNING' and attributes.start_time >= {since_ms}",
        )
        parents = [r.info.run_id for r in running if "mlflow.parentRunId" not in r.data.tags]
        parent_run_id = parents[0] if parents else None
    if parent_run_id is None:
        return "no MLflow run had started"
    client.set_terminated(parent_run_id, "KILLED")
    # Worker threads keep fitting while we clean up and may open a cell's run meanwhile: sweep
    # until a pass finds none still running.
    for _ in range(KILL_SWEEPS):
        children = client.search_runs(
            [experiment.experiment_id],
            f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'RUNNING'",
        )
        if not children:
            break
        for child in children:
            client.set_terminated(child.info.run_id, "KILLED")
    return f"MLflow run {parent_run_id} is marked KILLED"


def _cancel_flow_run(flow_run_id: str | None, reason: str) -> None:
    if flow_run_id is None:
        return
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run_id, Cancelled(message=reason), force=True)


def _stop_children() -> None:
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        child.terminate()
    _, alive = psutil.wait_procs(children, timeout=CHILD_STOP_SECONDS)
    for child in alive:
        child.kill()


def _give_up(name: str, code: int) -> None:
    sys.stderr.write(
        f"ccseg: interrupted by {name}: the run stopped; its clean-up did not finish within "
        f"{CLEANUP_DEADLINE_SECONDS:g} s, so the MLflow run may still show RUNNING\n"
    )
    sys.stderr.flush()
    os._exit(code)


class _Stopper:
    """The signal handler and its clean-up; one per `ccseg run`."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.started_ms = int(time.time() * 1000)
        self.stopping = False

    def on_signal(self, signum: int, _frame: Any) -> None:
        code = EXIT_CODES.get(signal.Signals(signum), 128 + signum)
        if self.stopping:
            os._exit(code)
        self.stopping = True
        parent_run_id, flow_run_id = _active_parent_run_id(), _active_flow_run_id()
        name = signal.Signals(signum).name
        watchdog = threading.Timer(CLEANUP_DEADLINE_SECONDS, _give_up, args=(name, code))
        watchdog.daemon = True
        watchdog.start()
        cleaner = threading.Thread(
            target=self._clean_up_and_exit,
            args=(name, code, parent_run_id, flow_run_id),
            daemon=True,
        )
        cleaner.start()
        # The flow stays frozen here (the main thread) while the clean-up ends the process.
        cleaner.join()

    def _clean_up_and_exit(
        self, name: str, code: int, parent_run_id: str | None, flow_run_id: str | None
    ) -> None:
        from tasks.mlops.tracking import close_cell_runs
        from tasks.workdir.lock import forget_owner_records
        from tasks.workdir.runs import abandon_open_runs

        abandon_open_runs()
        close_cell_runs()
        outcome = self._attempt(
            lambda: _mark_killed(self.settings, parent_run_id, self.started_ms),
            "the MLflow run could not be marked KILLED",
        )
        self._attempt(lambda: _cancel_flow_run(flow_run_id, f"interrupted by {name}"), "")
        self._attempt(_stop_children, "")
        forget_owner_records()  # the OS releases the locks themselves when the process ends
        outputs = self.settings.outputs_dir
        sys.stdout.flush()
        sys.stderr.write(
            f"ccseg: interrupted by {name}: the run stopped; {outcome}; {outputs}/ is unchanged\n"
        )
        sys.stderr.flush()
        os._exit(code)

    @staticmethod
    def _attempt(action: Any, failed: str) -> str:
        # Best effort: a store or server that fails now must not keep the process alive.
        try:
            return action() or ""
        except Exception as exc:
            return f"{failed} ({type(exc).__name__})" if failed else ""

    def take_back_sigterm(self, *_args: Any) -> None:
        """A flow `on_running` hook: take SIGTERM back from Prefect's handler for this run.

        Prefect turns SIGTERM into an exception that unwinds through the task runner (the slow
        path above); Prefect restores this handler when the run ends.
        """
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.on_signal)


class _HookChatter(logging.Filter):
    """Prefect announces every hook at INFO, twice; ours is plumbing, not news (DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if HOOK_NAME not in str(record.msg):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


HOOK_NAME = _Stopper.take_back_sigterm.__name__
HOOK_LOGGERS = ("prefect.engine", "prefect.flow_runs")


@contextmanager
def stop_promptly_on_signals(settings: PipelineSettings) -> Iterator[_Stopper]:
    """Install the handlers for the block; yields the stopper (its `take_back_sigterm` is a
    flow hook)."""
    # Imported now, not in the handler: the main thread may be frozen inside an import then.
    import mlflow  # noqa: F401
    import psutil  # noqa: F401
    from prefect.client.orchestration import get_client  # noqa: F401
    from prefect.states import Cancelled  # noqa: F401

    stopper = _Stopper(settings)
    previous = {sig: signal.signal(sig, stopper.on_signal) for sig in EXIT_CODES}
    chatter = _HookChatter()
    for name in HOOK_LOGGERS:
        logging.getLogger(name).addFilter(chatter)
    try:
        yield stopper
    finally:
        for name in HOOK_LOGGERS:
            logging.getLogger(name).removeFilter(chatter)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
