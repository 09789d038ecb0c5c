"""The `ccseg` CLI: help everywhere, a readable validate summary, one-line errors with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from ccseg.cli import app, main
from schemas.columns import RAW_COLUMNS

# An invented customer (never a real row) that breaks no rule; tests derive bad rows from it.
VALID_ROW = (
    "C0001,1000.5,1.0,300.0,100.0,200.0,0.0,0.5,0.25,0.416667,0.0,0,8,3000.0,500.0,200.0,0.0,12"
)
HEADER = ",".join(RAW_COLUMNS)


def _command_paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command reachable from the app, so commands added later get a --help test too."""
    # Duck-typed: typer vendors its own click, so its groups are not click.Group instances.
    paths = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += _command_paths(sub, (*prefix, name))
    return paths


COMMAND_PATHS = _command_paths(typer.main.get_command(app))


def _csv(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _row(**cells: str) -> str:
    fields = dict(zip(RAW_COLUMNS, VALID_ROW.split(","), strict=True)) | cells
    return ",".join(fields[c] for c in RAW_COLUMNS)


def test_app_registers_the_validate_and_synth_commands() -> None:
    assert {("validate",), ("synth",)} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "ccseg")
def test_help_works_on_every_command(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*path, "--help"])

    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.startswith(f"Usage: {' '.join(('ccseg', *path))} ")
    assert captured.err == ""


def test_no_arguments_shows_usage_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([])

    captured = capsys.readouterr()
    assert code in (0, 2)
    assert "Usage: ccseg" in captured.out + captured.err
    assert "validate" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


def test_validate_prints_the_summary_and_exits_0_with_quarantined_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(
        tmp_path / "drop.csv",
        VALID_ROW,
        _row(CUST_ID="C0002", BALANCE="abc"),
        _row(CUST_ID="C0003", MINIMUM_PAYMENTS=""),
    )
    out = tmp_path / "out"

    code = main(["validate", str(data), "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert lines[0] == f"{data}: 3 rows in, 2 clean, 1 quarantined"
    assert "  hard: not_a_number 1" in lines
    assert "  soft: minimum_payments_missing 1" in lines
    assert lines[-1].startswith("  wrote ")
    report = json.loads((out / "validation.json").read_text())
    assert (report["rows_in"], report["rows_clean"], report["rows_quarantined"]) == (3, 2, 1)


def test_validate_names_the_extra_columns_it_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "drop.csv", VALID_ROW + ",north", header=HEADER + ",Region")

    code = main(["validate", str(data), "--out", str(tmp_path / "out")])

    assert code == 0
    assert "  extra columns ignored: Region" in capsys.readouterr().out.splitlines()


USAGE_ERRORS = {
    "validate_without_path": ["validate"],
    "validate_without_out": ["validate", "{data}"],
    "unknown_command": ["segment-everything"],
    "unknown_option": ["validate", "{data}", "--out", "{out}", "--fast"],
    "synth_rows_not_a_number": ["synth", "--rows", "many", "--out", "{out}/synthetic.csv"],
}


@pytest.mark.parametrize("kind", USAGE_ERRORS)
def test_usage_error_exits_2_without_a_traceback(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "drop.csv", VALID_ROW)
    out = tmp_path / "out"
    argv = [arg.format(data=data, out=out) for arg in USAGE_ERRORS[kind]]

    code = main(argv)

    captured = capsys.readouterr()
    assert code == 2
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith("ccseg: error: ")
    assert "--help" in captured.err  # says where the usage is
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


def test_file_level_error_is_one_line_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "drop.csv", header=HEADER)
    out = tmp_path / "out"

    code = main(["validate", str(data), "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == f"ccseg: error: {data}: header only: the file has no data rows\n"
    assert captured.out == ""
    assert not out.exists()


def test_out_pointing_at_a_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "drop.csv", VALID_ROW)
    not_a_folder = tmp_path / "results.txt"
    not_a_folder.write_text("keep me\n")

    code = main(["validate", str(data), "--out", str(not_a_folder)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1
    assert str(not_a_folder) in captured.err
    assert not_a_folder.read_text() == "keep me\n"


def test_installed_console_script_exits_2_with_one_stderr_line(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("ccseg")
    assert script.is_file(), f"console script not installed next to {sys.executable}"
    data = tmp_path / "image.csv"
    data.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    out = tmp_path / "out"

    finished = subprocess.run(
        [str(script), "validate", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=False,
    )

    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [
        f"ccseg: error: {data}: binary content (NUL bytes): not a CSV text file"
    ]
    assert finished.stdout == ""
    assert not out.exists()


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _pipeline_commands() -> dict[str, object]:
    root = typer.main.get_command(app)
    return {name: cmd for name, cmd in root.commands.items() if name != "chatbot"}


@pytest.mark.parametrize("name", sorted(_pipeline_commands()))
def test_readme_documents_every_flag_of_every_pipeline_command(name: str) -> None:
    section = _readme_section("The CLI")
    if name == "loadtest":  # its many options are explained in a section of their own
        section += _readme_section("Load-testing the chat service")
    command = _pipeline_commands()[name]
    flags = {
        opt
        for param in command.params
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    }

    assert f"`ccseg {name}" in section
    assert sorted(flag for flag in flags if flag not in section) == []


def test_readme_documents_every_pipeline_setting() -> None:
    from core.settings import AlertSettings, DriftSettings, EconomicsSettings, PipelineSettings

    # The settings of unattended runs are documented with the drift check they configure.
    section = _readme_section("The CLI") + _readme_section("Unattended runs")
    names = {f"CCSEG_{field.upper()}" for field in PipelineSettings.model_fields}
    # Nested settings are set one variable each (a `_HIGH` or `_DRIFT` written as its suffix).
    names -= {"CCSEG_ECONOMICS", "CCSEG_DRIFT", "CCSEG_ALERTS"}
    names |= {
        f"CCSEG_ECONOMICS_{field.upper()}"
        for field in EconomicsSettings.model_fields
        if field.endswith("_low")
    }
    names |= {
        f"CCSEG_DRIFT_{field.upper()}"
        for field in DriftSettings.model_fields
        if not field.endswith("_drift")
    }
    names |= {f"CCSEG_ALERT_{field.upper()}" for field in AlertSettings.model_fields}

    assert sorted(n for n in names if n not in section) == []
    assert "MLFLOW_TRACKING_URI" in section
