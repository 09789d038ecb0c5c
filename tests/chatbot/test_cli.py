"""The `ccseg chatbot` typer sub-app: its commands and their refusals of bad input."""

from __future__ import annotations

from typer.testing import CliRunner

from chatbot.cli import app


def test_sub_app_offers_serve_and_fake_bedrock():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output and "fake-bedrock" in result.output


def test_fake_bedrock_refuses_a_non_loopback_address_in_one_line():
    result = CliRunner().invoke(app, ["fake-bedrock", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "loopback" in result.output
    assert "Traceback" not in result.output


def test_fake_bedrock_refuses_malformed_or_unknown_fault_rates_in_one_line():
    for fault in ("throttling", "throttling=often", "meteor=0.1", "internal=1.5"):
        result = CliRunner().invoke(app, ["fake-bedrock", "--port", "0", "--fault", fault])
        assert result.exit_code == 2, fault
        assert "Invalid value for --fault" in result.output, fault
        assert "Traceback" not in result.output


def test_ccseg_names_the_fake_bedrock_flag_the_user_typed_in_its_one_line_form(capsys):
    from ccseg.cli import main

    cases = {
        ("--latency-ms", "-5"): "Invalid value for --latency-ms: must not be negative",
        ("--latency-p99-ms", "1"): "Invalid value for --latency-p99-ms: must be at least",
        ("--requests-per-minute", "0"): "Invalid value for --requests-per-minute: must be at",
        ("--fault", "internal=1.5"): "Invalid value for --fault: --fault internal=1.5: the rate",
    }
    for (flag, value), expected in cases.items():
        argv = ["chatbot", "fake-bedrock", "--port", "0", "--latency-ms", "10", flag, value]
        if flag == "--latency-ms":
            argv = ["chatbot", "fake-bedrock", "--port", "0", flag, value]

        assert main(argv) == 2, flag
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1, flag
        assert lines[0].startswith(f"ccseg: error: {expected}"), lines[0]
