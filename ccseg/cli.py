"""`ccseg`, the user's entry point: expected bad input ends in one line on stderr and exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ccseg.errors import CcsegError

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
    from tasks.ingest import read_and_validate, write_outputs

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
    from tasks.synthetic import write_synthetic

    written = write_synthetic(rows, seed, out, labels)
    typer.echo(
        f"wrote {rows} synthetic customers to {written}"
        + (f", labels to {labels}" if labels else "")
    )


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
