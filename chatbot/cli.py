"""`ccseg chatbot ...`: serve the chat service, or run the fake Bedrock runtime for local work."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The Bedrock chat assistant: the service and a fake Bedrock runtime.",
    no_args_is_help=True,
    # Plain click errors: a supervisor's log (and the load test reading it) gets the reason on
    # one line instead of wrapped inside a box.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Interface to bind (CHATBOT_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port to bind (CHATBOT_PORT, 8080)."),
) -> None:
    """Serve the chat API and widget with uvicorn, in one process, configured by CHATBOT_*."""
    import uvicorn

    from chatbot.app import create_app
    from chatbot.observability import configure_logging
    from chatbot.server import uvicorn_config
    from chatbot.settings import SettingsError, load_settings

    overrides = {name: value for name, value in (("host", host), ("port", port)) if value}
    try:
        settings = load_settings(**overrides)
    except SettingsError as error:
        # A usage error: click prints it in the CLI's own form (`ccseg: error: ...` under ccseg).
        raise typer.BadParameter(str(error), param_hint="CHATBOT_* settings") from None
    configure_logging(settings.log_level)
    uvicorn.Server(uvicorn_config(create_app(settings), settings)).run()


@app.command("embed-snippet")
def embed_snippet(
    base_url: str = typer.Argument(..., help="Where sites load the widget from, https://..."),
) -> None:
    """Print the <script> tag for sites: versioned URL and Subresource Integrity hash."""
    from chatbot.widget_assets import embed_snippet as snippet

    typer.echo(snippet(base_url))


def _parse_fault_rates(options: list[str]) -> dict[str, float]:
    """`--fault throttling=0.1 --fault internal=0.02` -> {"throttling": 0.1, "internal": 0.02}."""
    rates = {}
    for option in options:
        kind, _, rate = option.partition("=")
        try:
            rates[kind.strip()] = float(rate)
        except ValueError:
            raise ValueError(
                f"--fault takes KIND=RATE (e.g. throttling=0.1), got {option!r}"
            ) from None
        if not 0.0 <= rates[kind.strip()] <= 1.0:
            raise ValueError(f"--fault {option}: the rate is a share of requests, 0 to 1")
    from chatbot.fake_bedrock_faults import FAULT_KINDS

    unknown = sorted(set(rates) - set(FAULT_KINDS))
    if unknown:
        raise ValueError(f"unknown fault kind {unknown[0]!r}; choose from {', '.join(FAULT_KINDS)}")
    return rates


def _check_model_options(
    latency_ms: float,
    latency_p99_ms: float | None,
    requests_per_minute: int | None,
    tokens_per_minute: int | None,
) -> None:
    """The fake's options by the flags the user typed (the fake itself names its parameters)."""
    if latency_ms < 0:
        raise typer.BadParameter("must not be negative", param_hint="--latency-ms")
    if latency_p99_ms is not None and latency_p99_ms < latency_ms:
        raise typer.BadParameter("must be at least --latency-ms", param_hint="--latency-p99-ms")
    for flag, quota in (
        ("--requests-per-minute", requests_per_minute),
        ("--tokens-per-minute", tokens_per_minute),
    ):
        if quota is not None and quota < 1:
            raise typer.BadParameter("must be at least 1 (omit it for no quota)", param_hint=flag)


@app.command("fake-bedrock")
def fake_bedrock(
    port: int = typer.Option(8788, help="Port to bind on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", help="Loopback address to bind."),
    latency_ms: float = typer.Option(0.0, help="Median model latency in milliseconds."),
    latency_p99_ms: float | None = typer.Option(None, help="p99 latency (lognormal); none: fixed."),
    stream_token_delay_ms: float = typer.Option(0.0, help="Delay between streamed words."),
    requests_per_minute: int | None = typer.Option(None, help="Requests-per-minute quota."),
    tokens_per_minute: int | None = typer.Option(None, help="Tokens-per-minute quota."),
    seed: int = typer.Option(0, help="Seed of the latency and fault draws."),
    fault: list[str] = typer.Option(
        [], help="KIND=RATE: answer that share of requests with the fault (repeatable)."
    ),
) -> None:
    """Run the fake Bedrock runtime; point AWS_ENDPOINT_URL_BEDROCK_RUNTIME at the URL it prints."""
    from chatbot.fake_bedrock import NotLoopbackError, main

    _check_model_options(latency_ms, latency_p99_ms, requests_per_minute, tokens_per_minute)
    try:
        fault_rates = _parse_fault_rates(fault)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--fault") from None
    try:
        main(
            fault_rates=fault_rates,
            port=port,
            host=host,
            latency_ms_median=latency_ms,
            latency_ms_p99=latency_p99_ms,
            stream_token_delay_ms=stream_token_delay_ms,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            seed=seed,
        )
    except NotLoopbackError as error:
        raise typer.BadParameter(str(error), param_hint="--host") from None
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


if __name__ == "__main__":
    app()
