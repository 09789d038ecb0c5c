"""`ccseg`, the user's entry point: expected bad input ends in one line on stderr and exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from core.errors import CcsegError, ParameterError
from tasks.loadtest.settings import DEFAULT_CHAT_URL, LoadTestSettings

app = typer.Typer(
    name="ccseg",
    help="Customer segmentation for CC GENERAL credit-card data, and its chat assistant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain click output: a usage error is a short message, not a drawn panel.
    rich_markup_mode=None,
)


@app.command()
def validate(
    path: Path = typer.Argument(..., help="CC GENERAL CSV file to validate."),
    out: Path = typer.Option(
        ..., "--out", help="Folder for clean.parquet, quarantine.csv, validation.json."
    ),
) -> None:
    """Validate a CC GENERAL file: clean rows, quarantined rows with reasons, and a summary."""
    from tasks.data.ingest import read_and_validate, write_outputs

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
    rows: int = typer.Option(10_000, "--rows", help="Number of customers to generate."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same file."),
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
    labels: Path | None = typer.Option(None, "--labels", help="Also write planted segments here."),
) -> None:
    """Write synthetic CC-GENERAL-shaped data with planted customer segments."""
    from tasks.data.synthetic import write_synthetic

    written = write_synthetic(rows, seed, out, labels)
    typer.echo(
        f"wrote {rows} synthetic customers to {written}"
        + (f", labels to {labels}" if labels else "")
    )


def _grid_from(text: str | None):
    """`--grid` takes JSON text or @path-to-json; bad specs fail here, before any work."""
    if text is None:
        return None
    from tasks.segmentation.grid import parse_grid_spec

    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ParameterError(f"grid file not found: {path}")
        text = path.read_text()
    return parse_grid_spec(text)


@app.command()
def run(
    data: Path | None = typer.Option(
        None, "--data", help="CC GENERAL CSV (default: CCSEG_DATA_PATH, else synthetic data)."
    ),
    grid: str | None = typer.Option(
        None, "--grid", help="Grid spec as JSON text or @file.json (default: the built-in grid)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: ./outputs)."),
    synthetic_rows: int = typer.Option(
        20_000, "--synthetic-rows", help="Customers to generate when no real file is found."
    ),
    dask_address: str | None = typer.Option(
        None, "--dask-address", help="Run the grid on this Dask scheduler instead of threads."
    ),
) -> None:
    """Run the segmentation flow end to end: validate, grid, select, promote, report."""
    spec = _grid_from(grid)
    from flows.segmentation import segmentation

    flow = segmentation
    if dask_address:
        from prefect_dask import DaskTaskRunner

        flow = segmentation.with_options(task_runner=DaskTaskRunner(address=dask_address))
    summary = flow(data_path=data, grid=spec, output_dir=out, synthetic_rows=synthetic_rows)
    typer.echo(
        f"chosen {summary.chosen_cell_id}: {summary.n_segments} segments over "
        f"{summary.rows_clean:,} customers ({summary.rows_quarantined:,} quarantined)\n"
        f"registry: {summary.promotion.reason}\n"
        f"segments: {summary.segments_path}"
        + (f"\nreport: {summary.report_path}" if summary.report_path else "")
    )


@app.command()
def score(
    data: Path = typer.Option(..., "--data", help="A new batch of CC GENERAL rows to segment."),
    out: Path = typer.Option(..., "--out", help="CSV to write customer -> segment to."),
    model_uri: str | None = typer.Option(
        None, "--model-uri", help="Model to use (default: models:/cc-segmentation@champion)."
    ),
) -> None:
    """Assign segments to a new batch with the champion model (same validation contract)."""
    from flows.scoring import scoring

    summary = scoring(data_path=data, output_path=out, model_uri=model_uri)
    typer.echo(
        f"{summary.rows_scored:,} customers scored with {summary.model_uri} -> "
        f"{summary.output_path} ({summary.rows_quarantined:,} quarantined)"
    )


@app.command()
def watch(
    landing: Path = typer.Option(Path("landing"), "--landing", help="Folder new files land in."),
    pattern: str = typer.Option("*.csv", "--pattern", help="Which files count as data."),
    state_file: Path | None = typer.Option(None, "--state-file", help="Where seen hashes live."),
    settle_seconds: float = typer.Option(
        60.0, "--settle-seconds", help="A file must be unchanged this long to be taken."
    ),
) -> None:
    """Announce new files in the landing folder as ccseg.data.landed events (one look)."""
    from flows.data_watch import watch as watch_once

    announced = watch_once(landing, pattern, state_file, settle_seconds)
    typer.echo(f"{len(announced)} new file(s) announced")


@app.command()
def notify(path: Path = typer.Argument(..., help="File to announce as ccseg.data.landed.")) -> None:
    """Emit the landed-data event for one file by hand (triggers segmentation-on-new-data)."""
    from flows.data_watch import notify as announce

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
    typer.echo(f"ccseg: error: {message}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected errors become one line on stderr and a non-zero exit code."""
    from ccseg.runtime import apply_prefect_defaults

    apply_prefect_defaults()
    try:
        # Standalone mode: click reports usage errors itself (exit 2) via SystemExit.
        app(args=argv, prog_name="ccseg")
    except CcsegError as exc:
        _stderr(str(exc))
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
