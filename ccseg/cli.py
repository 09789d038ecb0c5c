"""`ccseg`, the user's entry point: preflight, then the work; bad input ends in one line on stderr.

Every failure a user can fix prints `ccseg: error: ...` and exits 2 (75 when another run holds
the working folder, 130/143 when interrupted); usage errors take the same form. The checks each
command can make without Prefect run first (`ccseg/preflight.py`); errors the flows raise for bad
input reach the user the same way, without Prefect's traceback (`ccseg/failures.py`).
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import typer
import typer.main

from ccseg.failures import error_line
from core.errors import CcsegError
from tasks.loadtest.driver import DEFAULT_CHAT_URL

app = typer.Typer(
    name="ccseg",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain click output: a usage error is a short message, not a drawn panel.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"ccseg {version('ccseg')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Customer segmentation for CC GENERAL credit-card data, and its chat assistant.

    Exit codes: 0 done; 2 bad input (the message names the flag or setting to fix); 75 another
    run holds the working folder; 130/143 interrupted (Ctrl-C / SIGTERM).
    """


@app.command()
def validate(
    path: Path = typer.Argument(..., help="CC GENERAL CSV file to validate (read only)."),
    out: Path = typer.Option(
        ..., "--out", help="Folder for clean.parquet, quarantine.csv, validation.json."
    ),
) -> None:
    """Validate a CC GENERAL file: clean rows, quarantined rows with reasons, and a summary."""
    from ccseg.preflight import preflight_validate
    from tasks.data.ingest import read_and_validate, write_outputs

    preflight_validate(path, out)
    result = read_and_validate(path)
    written = write_outputs(result, out)
    summary = result.summary
    typer.echo(
        f"{path}: {summary.rows_in} rows in, {summary.rows_clean} clean, "
        f"{summary.rows_quarantined} quarantined"
    )
    for tier, counts in (("hard", summary.hard_rule_counts), ("soft", summary.soft_rule_counts)):
        found = {rule: n for rule, n in counts.items() if n}
        if found:
            typer.echo(f"  {tier}: " + ", ".join(f"{rule} {n}" for rule, n in found.items()))
    if summary.extra_columns:
        typer.echo(f"  extra columns ignored: {', '.join(summary.extra_columns)}")
    typer.echo(f"  wrote {', '.join(str(p) for p in written.values())}")


@app.command()
def synth(
    rows: int = typer.Option(
        10_000, "--rows", help="Number of customers to generate (bounded by free memory)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same file."),
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
    labels: Path | None = typer.Option(None, "--labels", help="Also write planted segments here."),
) -> None:
    """Write synthetic CC-GENERAL-shaped data with planted customer segments."""
    from ccseg.preflight import preflight_synth
    from tasks.data.synthetic import write_synthetic

    preflight_synth(rows, seed, out, labels)
    written = write_synthetic(rows, seed, out, labels)
    typer.echo(
        f"wrote {rows} synthetic customers to {written}"
        + (f", labels to {labels}" if labels else "")
    )


@app.command()
def run(
    data: Path | None = typer.Option(
        None,
        "--data",
        help="CC GENERAL CSV to segment. Default: CCSEG_DATA_PATH, else the real file "
        "../shared/data/cc_general.csv. Only when neither is given and that file is absent: "
        "synthetic customers, in WORK_DIR/synthetic. A path given but missing is an error.",
    ),
    grid: str | None = typer.Option(
        None, "--grid", help="Grid spec as JSON text or @file.json (default: the built-in grid)."
    ),
    work_dir: Path | None = typer.Option(
        None,
        "--work-dir",
        "--out",
        help="Working folder for outputs/, reports/, mlflow.db and mlartifacts/ (the store, "
        "unless MLFLOW_TRACKING_URI is set). Default: CCSEG_WORK_DIR, else the current folder.",
    ),
    synthetic_rows: int = typer.Option(
        20_000,
        "--synthetic-rows",
        help="Customers to generate when the run falls back to synthetic data (see --data).",
    ),
    dask_address: str | None = typer.Option(
        None,
        "--dask-address",
        help="Run the grid on this Dask scheduler (tcp://host:8786) instead of 2 threads.",
    ),
) -> None:
    """Run the segmentation flow end to end: validate, grid, select, promote, report."""
    from ccseg.interrupt import stop_promptly_on_signals
    from ccseg.preflight import preflight_run
    from ccseg.summaries import run_summary
    from tasks.workdir.lock import hold_run_locks

    plan = preflight_run(data, grid, work_dir, synthetic_rows, dask_address)
    # The lock before Prefect starts: a second run on this folder is refused at once.
    with hold_run_locks(plan.settings), stop_promptly_on_signals(plan.settings) as stopper:
        from flows.segmentation import segmentation

        hooks = [*segmentation.on_running_hooks, stopper.take_back_sigterm]
        options: dict[str, object] = {"on_running": hooks}
        if dask_address:
            from prefect_dask import DaskTaskRunner

            options["task_runner"] = DaskTaskRunner(address=dask_address)
        summary = segmentation.with_options(**options)(
            data_path=data,
            grid=plan.grid,
            work_dir=work_dir,
            synthetic_rows=synthetic_rows,
        )
    typer.echo(run_summary(summary))


@app.command()
def score(
    data: Path = typer.Option(..., "--data", help="A new batch of CC GENERAL rows to segment."),
    out: Path = typer.Option(
        ...,
        "--out",
        help="CSV to write customer -> segment to; also writes OUT.parquet beside it and "
        "OUT_validation/ (clean.parquet, quarantine.csv, validation.json).",
    ),
    model_uri: str | None = typer.Option(
        None,
        "--model-uri",
        help="Model to use. Default: models:/cc-segmentation@champion in the store of the "
        "working folder (CCSEG_WORK_DIR, else the current folder) or MLFLOW_TRACKING_URI.",
    ),
) -> None:
    """Assign segments to a new batch with the champion model (same validation contract)."""
    from ccseg.preflight import preflight_score
    from flows.scoring import scoring

    preflight_score(data, out, model_uri)
    summary = scoring(data_path=data, output_path=out, model_uri=model_uri)
    typer.echo(
        f"{summary.rows_scored:,} customers scored with {summary.model_uri} -> "
        f"{summary.output_path} ({summary.rows_quarantined:,} quarantined)"
    )


@app.command()
def watch(
    landing: Path = typer.Option(Path("landing"), "--landing", help="Folder new files land in."),
    pattern: str = typer.Option("*.csv", "--pattern", help="Which files count as data."),
    state_file: Path | None = typer.Option(
        None,
        "--state-file",
        help="Where seen hashes live (default: LANDING/.ccseg-landing-state.json).",
    ),
    settle_seconds: float = typer.Option(
        60.0, "--settle-seconds", help="A file must be unchanged this long to be taken."
    ),
) -> None:
    """Announce new files in the landing folder as ccseg.data.landed events (one look).

    Needs a Prefect server: PREFECT_API_URL (e.g. http://127.0.0.1:4200/api).
    """
    from ccseg.preflight import preflight_watch
    from flows.data_watch import watch as watch_once

    preflight_watch(landing, pattern, state_file, settle_seconds)
    announced = watch_once(landing, pattern, state_file, settle_seconds)
    typer.echo(f"{len(announced)} new file(s) announced")


@app.command()
def notify(path: Path = typer.Argument(..., help="File to announce as ccseg.data.landed.")) -> None:
    """Emit the landed-data event for one file by hand (triggers segmentation-on-new-data).

    Needs a Prefect server: PREFECT_API_URL (e.g. http://127.0.0.1:4200/api).
    """
    from ccseg.preflight import preflight_notify
    from flows.data_watch import notify as announce

    preflight_notify(path)
    landed = announce(path)
    typer.echo(f"announced {landed.path} ({landed.bytes:,} bytes) as {landed.resource_id}")


@app.command()
def loadtest(
    base_url: str = typer.Option(DEFAULT_CHAT_URL, "--base-url", help="Chat service URL."),
    rate: float = typer.Option(100, "--rate", help="Open-loop arrivals per minute."),
    duration: float = typer.Option(30, "--duration", help="Seconds of load (bounded)."),
    sessions: int = typer.Option(20, "--sessions", help="Distinct chat sessions to spread over."),
    timeout: float = typer.Option(5, "--timeout", help="Per-request timeout in seconds."),
    seed: int = typer.Option(0, "--seed", help="Seed for arrivals and questions."),
) -> None:
    """Load-test the chat service with open-loop traffic (loopback only) and report the outcome."""
    from flows.chatbot_loadtest import chatbot_loadtest

    chatbot_loadtest(
        base_url=base_url,
        requests_per_minute=rate,
        duration_seconds=duration,
        session_count=sessions,
        timeout_seconds=timeout,
        seed=seed,
    )


def _register_chatbot() -> None:
    # The chat service is an independent package; the pipeline CLI only mounts its commands.
    from chatbot.cli import app as chatbot_app

    app.add_typer(chatbot_app, name="chatbot")


_register_chatbot()


def _stderr(message: str) -> None:
    typer.echo(error_line(message), err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected errors become one line on stderr and a non-zero exit code."""
    # typer vendors click (0.29): its exception classes live in typer._click.
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    from ccseg.chat import add_chat_preflight
    from ccseg.failures import quiet_user_errors_in_run_logs
    from ccseg.runtime import apply_prefect_defaults

    apply_prefect_defaults()
    quiet_user_errors_in_run_logs()
    command = typer.main.get_command(app)
    add_chat_preflight(command)
    try:
        # Not standalone: click raises its errors here, so they take our one-line form too.
        result = command.main(args=argv, prog_name="ccseg", standalone_mode=False)
    except CcsegError as exc:
        _stderr(str(exc))
        return exc.exit_code
    except NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help(), err=True)
        return 2
    except UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _stderr(exc.format_message().rstrip(".") + hint)
        return exc.exit_code
    except ClickException as exc:
        _stderr(exc.format_message())
        return exc.exit_code
    except typer.Abort:
        _stderr("aborted")
        return 1
    if result == 130:  # click turns Ctrl-C outside `ccseg run` into exit code 130
        _stderr("interrupted")
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
