"""`ccseg`, the user's entry point: expected bad input ends in one line on stderr and exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from core.errors import CcsegError, ParameterError
from tasks.loadtest.driver import DEFAULT_CHAT_URL

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
