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
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, fault
        assert "Traceback" not in result.output
