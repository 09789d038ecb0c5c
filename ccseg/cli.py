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
from core.errors import CcsegError, ParameterError
from tasks.loadtest.settings import DEFAULT_CHAT_URL, LoadTestSettings

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
        if plan.dask_address:  # --dask-address, else the CCSEG_DASK_ADDRESS setting
            from prefect_dask import DaskTaskRunner

            options["task_runner"] = DaskTaskRunner(address=plan.dask_address)
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
        help="CSV to write customer -> segment to; also writes OUT.parquet beside it, "
        "OUT_validation/ (clean.parquet, quarantine.csv, validation.json) and OUT.drift.json "
        "(the drift verdict against the champion's training data).",
    ),
    model_uri: str | None = typer.Option(
        None,
        "--model-uri",
        help="Model to use. Default: models:/cc-segmentation@champion in the store of the "
        "working folder (CCSEG_WORK_DIR, else the current folder) or MLFLOW_TRACKING_URI.",
    ),
) -> None:
    """Assign segments to a new batch with the champion model (same validation contract)."""
    from ccseg.runtime import TemporaryServerHeadStart
    from core.paths import require_input_file

    require_input_file(data, "--data file")  # the commonest mistake, answered before any boot
    # First: the server boots on the other core while this one imports and checks (the boot
    # took longer than all the checks; started after them, it was the wait before the flow).
    server = TemporaryServerHeadStart().begin()
    try:
        from ccseg.preflight import preflight_score
        from flows.scoring import scoring

        preflight_score(data, out, model_uri)
    except BaseException:
        server.abandon()
        raise
    server.ready()
    summary = scoring(data_path=data, output_path=out, model_uri=model_uri)
    typer.echo(
        f"{summary.rows_scored:,} customers scored with {summary.model_uri} -> "
        f"{summary.output_path} ({summary.rows_quarantined:,} quarantined)"
    )
    typer.echo(f"{summary.drift_summary} -> {summary.drift_path}")


@app.command()
def gc(
    keep: int = typer.Option(
        ..., "--keep", help="Newest segmentation runs to keep whole (at least 1)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would be deleted; delete nothing."
    ),
) -> None:
    """Delete artifacts of older segmentation runs; keep metrics, params and registered models."""
    from core.settings import load_settings
    from tasks.mlops.retention import collect_garbage

    settings = load_settings()
    retention = collect_garbage(
        settings.tracking_uri, settings.experiment_name, keep, dry_run=dry_run
    )
    typer.echo(retention.summary())


@app.command()
def history(
    last: int = typer.Option(10, "--last", help="How many of the newest runs to show (>= 1)."),
    as_json: bool = typer.Option(False, "--json", help="Print the history as JSON."),
    synthetic: bool = typer.Option(
        False, "--synthetic", help="The runs on generated data (WORK_DIR/synthetic) instead."
    ),
) -> None:
    """The last runs side by side (data, decision, shares) and who moved between champions.

    Reads the store of the working folder (CCSEG_WORK_DIR, else the current folder) or
    MLFLOW_TRACKING_URI.
    """
    from core.settings import load_settings
    from tasks.report.history import history_json, history_text, segment_history

    if last < 1:
        raise ParameterError(f"--last must be a whole number of runs, at least 1; got {last}")
    settings = load_settings()
    if synthetic:
        settings = settings.for_synthetic_data()
    if settings.sqlite_store_path is None:  # a server: one line at once, not MLflow's retries
        from ccseg.services import check_tracking_uri

        check_tracking_uri(settings.tracking_uri, None)
    view = segment_history(settings.tracking_uri, settings.experiment_name, last)
    typer.echo(history_json(view) if as_json else history_text(view))


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
    """Emit the landed-data event for one file by hand (triggers on-new-data).

    Needs a Prefect server: PREFECT_API_URL (e.g. http://127.0.0.1:4200/api).
    """
    from ccseg.preflight import preflight_notify
    from flows.data_watch import notify as announce

    preflight_notify(path)
    landed = announce(path)
    typer.echo(f"announced {landed.path} ({landed.bytes:,} bytes) as {landed.resource_id}")


def _default(setting: str) -> str:
    """A load-test setting's default, for help texts (the settings object is the one source)."""
    value = LoadTestSettings.model_fields[setting].get_default(call_default_factory=True)
    if isinstance(value, list):
        return ",".join(f"{item:g}" for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={item:g}" for key, item in value.items()) or "none"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _pairs(options: list[str], flag: str) -> dict[str, str]:
    """Repeatable `NAME=VALUE` options as a dict; a malformed one is a usage error."""
    pairs = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"{flag} takes NAME=VALUE, got {option!r}")
        pairs[name.strip()] = value.strip()
    return pairs


@app.command()
def loadtest(
    base_url: str | None = typer.Option(
        None, "--base-url", help=f"Chat service to load (default {DEFAULT_CHAT_URL})."
    ),
    start_services: bool = typer.Option(
        False, "--start-services", help="Start a fake Bedrock and a chat service for this run."
    ),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a non-loopback --base-url (a service you own)."
    ),
    rates: str | None = typer.Option(
        None,
        "--rates",
        help=f"Listed steps, requests/minute ({_default('rates_per_minute')}).",
    ),
    max_rate: float | None = typer.Option(
        None,
        "--max-rate",
        help=f"Doubling after the listed steps stops here ({_default('max_rate_per_minute')}).",
    ),
    step_seconds: float | None = typer.Option(
        None, "--step-seconds", help=f"Seconds of sending per step ({_default('step_seconds')})."
    ),
    step_max_requests: int | None = typer.Option(
        None,
        "--step-max-requests",
        help=f"Questions per step at most ({_default('step_max_requests')}).",
    ),
    max_seconds: float | None = typer.Option(
        None, "--max-seconds", help=f"Seconds for the whole ramp ({_default('max_total_seconds')})."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", help=f"Per-question timeout in seconds ({_default('timeout_seconds')})."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help=f"Seed of arrivals and questions ({_default('seed')})."
    ),
    repeat_share: float | None = typer.Option(
        None, "--repeat-share", help=f"Share of repeated questions ({_default('repeat_share')})."
    ),
    abusive_clients: int | None = typer.Option(
        None,
        "--abusive-clients",
        help=f"Clients asking above their limit ({_default('abusive_clients')}).",
    ),
    abusive_rate: float | None = typer.Option(
        None,
        "--abusive-rate",
        help=f"Requests/minute of each abusive client ({_default('abusive_rate_per_minute')}).",
    ),
    origin: str | None = typer.Option(
        None,
        "--origin",
        help=f"Origin the simulated widget sends ({_default('origin')}).",
    ),
    slo_rate: float | None = typer.Option(
        None,
        "--slo-rate",
        help=f"Requests/minute at which the SLO must hold ({_default('slo_rate_per_minute')}).",
    ),
    slo_p95_seconds: float | None = typer.Option(
        None,
        "--slo-p95-seconds",
        help=f"p95 latency bound of the SLO, seconds ({_default('slo_p95_seconds')}).",
    ),
    refusal_p99_ms: float | None = typer.Option(
        None,
        "--refusal-p99-ms",
        help=f"p99 bound of 429/503 refusals, ms ({_default('refusal_p99_ms')}).",
    ),
    model_latency_ms: float | None = typer.Option(
        None,
        "--model-latency-ms",
        help=f"Started fake's median latency, ms ({_default('model_latency_ms')}).",
    ),
    model_latency_p99_ms: float | None = typer.Option(
        None,
        "--model-latency-p99-ms",
        help=f"Started fake's p99 latency, ms; median: fixed ({_default('model_latency_p99_ms')}).",
    ),
    model_rpm: int | None = typer.Option(
        None,
        "--model-rpm",
        help=f"Started fake's requests/minute quota ({_default('model_requests_per_minute')}).",
    ),
    model_tpm: int | None = typer.Option(
        None,
        "--model-tpm",
        help=f"Started fake's tokens/minute quota ({_default('model_tokens_per_minute')}).",
    ),
    model_fault: list[str] = typer.Option(
        [],
        "--model-fault",
        help=f"KIND=RATE fault of the started fake, repeatable ({_default('model_faults')}).",
    ),
    service_env: list[str] = typer.Option(
        [], "--service-env", help="CHATBOT_NAME=VALUE for the started chat service (repeatable)."
    ),
    json_path: Path | None = typer.Option(
        None, "--json", help="Write the whole summary and the verdicts to this JSON file."
    ),
) -> None:
    """Ramp open-loop load on the chat service to the knee; exit 0 if all verdicts pass, else 1."""
    from tasks.loadtest.driver import require_loopback
    from tasks.loadtest.results import require_writable_json_path
    from tasks.loadtest.services import require_answering
    from tasks.loadtest.settings import load_loadtest_settings

    # Bad input fails here, before Prefect starts (the flow checks again for deployments):
    # the options first, then the target, which costs a request.
    if start_services and base_url is not None:
        raise ParameterError("pass either --base-url or --start-services, not both")
    options = {
        "rates_per_minute": rates,
        "max_rate_per_minute": max_rate,
        "step_seconds": step_seconds,
        "step_max_requests": step_max_requests,
        "max_total_seconds": max_seconds,
        "timeout_seconds": timeout,
        "seed": seed,
        "repeat_share": repeat_share,
        "abusive_clients": abusive_clients,
        "abusive_rate_per_minute": abusive_rate,
        "origin": origin,
        "slo_rate_per_minute": slo_rate,
        "slo_p95_seconds": slo_p95_seconds,
        "refusal_p99_ms": refusal_p99_ms,
        "model_latency_ms": model_latency_ms,
        "model_latency_p99_ms": model_latency_p99_ms,
        "model_requests_per_minute": model_rpm,
        "model_tokens_per_minute": model_tpm,
    }
    overrides: dict[str, object] = {name: v for name, v in options.items() if v is not None}
    if model_fault:
        faults = _pairs(model_fault, "--model-fault")
        try:
            overrides["model_faults"] = {kind: float(rate) for kind, rate in faults.items()}
        except ValueError:
            raise ParameterError("--model-fault takes KIND=RATE, e.g. throttling=0.1") from None
    if service_env:
        overrides["service_env"] = _pairs(service_env, "--service-env")
    settings = load_loadtest_settings(**overrides)
    require_writable_json_path(json_path)
    if not start_services:
        require_loopback(base_url or DEFAULT_CHAT_URL, allow_remote)
        require_answering(base_url or DEFAULT_CHAT_URL)
    from flows.chatbot_loadtest import chatbot_loadtest

    report = chatbot_loadtest(
        base_url=base_url,
        start_services=start_services,
        allow_remote=allow_remote,
        settings=settings,
        json_path=json_path,
    )
    knee = "none" if report.knee_per_minute is None else f"{report.knee_per_minute:g}/min"
    typer.echo(
        f"{len(report.steps)} steps on {report.target}; knee {knee}; "
        f"{'all verdicts passed' if report.passed else 'a verdict FAILED'}; "
        f"MLflow run {report.mlflow_run_id}" + (f"; JSON {json_path}" if json_path else "")
    )
    if not report.passed:
        raise typer.Exit(code=1)


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
