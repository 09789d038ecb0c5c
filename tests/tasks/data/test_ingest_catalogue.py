"""Malformed CC GENERAL files, each with its one clear outcome; and the tolerated variations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from ccseg.cli import main
from core.errors import FileLevelError
from schemas.columns import RAW_COLUMNS
from tasks.data.ingest import check_file_head, read_and_validate

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"


def _text(csv_builder, records=None, columns=RAW_COLUMNS) -> bytes:
    return csv_builder.text(records, columns).encode()


def _joined(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


# ---- File-level problems: one FileLevelError naming the file, exit 2, nothing written. ----


@dataclass(frozen=True)
class FileLevelCase:
    """How to make the bad input at a path, and the words the error must contain."""

    make: Callable[[object, Path], None]
    problem: str


def _bytes(build: Callable[[object], bytes]) -> Callable[[object, Path], None]:
    def make(csv_builder: object, path: Path) -> None:
        path.write_bytes(build(csv_builder))

    return make


def _without_tenure(csv_builder) -> bytes:
    return _text(csv_builder, columns=RAW_COLUMNS[:-1])


def _delimited_by(separator: str) -> Callable[[object], bytes]:
    return lambda b: _joined([line.replace(",", separator) for line in b.lines()])


def _latin1_id(csv_builder) -> bytes:
    return csv_builder.text(csv_builder.with_cells(1, CUST_ID="Té0002")).encode("latin-1")


def _header_twice(csv_builder) -> bytes:
    columns = [*RAW_COLUMNS, "BALANCE"]
    return _joined(
        [",".join(columns), *(csv_builder.line(r, columns) for r in csv_builder.records())]
    )


def _header_twice_by_case(csv_builder) -> bytes:
    lines = csv_builder.lines()
    lines[0] += ",balance"
    return _joined([lines[0], *(line + ",1.0" for line in lines[1:])])


FILE_LEVEL_CASES: dict[str, FileLevelCase] = {
    "png_image_bytes": FileLevelCase(_bytes(lambda b: PNG_BYTES), "binary content"),
    "nul_bytes_in_text": FileLevelCase(
        _bytes(lambda b: _text(b).replace(b"T0002", b"T\x000\x002")), "NUL bytes"
    ),
    "utf16_encoded": FileLevelCase(
        _bytes(lambda b: b.text().encode("utf-16")), "not a CSV text file"
    ),
    "empty_file": FileLevelCase(_bytes(lambda b: b""), "file is empty"),
    "whitespace_only": FileLevelCase(_bytes(lambda b: b" \n\t\r\n   \n"), "file is empty"),
    "header_only": FileLevelCase(_bytes(lambda b: _joined(b.lines()[:1])), "header only"),
    "header_then_blank_lines": FileLevelCase(
        _bytes(lambda b: _joined([b.lines()[0], "", " ", ""])), "header only"
    ),
    "required_column_missing": FileLevelCase(
        _bytes(_without_tenure), "required column(s) missing: TENURE"
    ),
    "json_not_csv": FileLevelCase(
        _bytes(lambda b: b'{"CUST_ID": "T0001", "BALANCE": 1000.5}\n'), "required column(s) missing"
    ),
    "undecodable_latin1_byte": FileLevelCase(_bytes(_latin1_id), "not UTF-8 text"),
    "semicolon_delimited": FileLevelCase(_bytes(_delimited_by(";")), "';'-delimited"),
    "tab_delimited": FileLevelCase(_bytes(_delimited_by("\t")), r"'\t'-delimited"),
    "pipe_delimited": FileLevelCase(_bytes(_delimited_by("|")), "'|'-delimited"),
    "duplicated_header_column": FileLevelCase(
        _bytes(_header_twice), "named twice in the header: BALANCE"
    ),
    "duplicated_header_column_by_case": FileLevelCase(
        _bytes(_header_twice_by_case), "named twice in the header: BALANCE"
    ),
    "a_directory": FileLevelCase(lambda b, path: path.mkdir(), "is a directory"),
    "missing_file": FileLevelCase(lambda b, path: None, "file not found"),
}


def _make_input(case: FileLevelCase, csv_builder, tmp_path: Path) -> Path:
    path = tmp_path / "input" / "cc_general.csv"
    path.parent.mkdir()
    case.make(csv_builder, path)
    return path


@pytest.mark.parametrize("kind", FILE_LEVEL_CASES)
def test_file_level_problem_raises_one_error_naming_file_and_problem(
    kind: str, csv_builder, tmp_path: Path
) -> None:
    case = FILE_LEVEL_CASES[kind]
    path = _make_input(case, csv_builder, tmp_path)

    with pytest.raises(FileLevelError) as raised:
        read_and_validate(path)

    assert str(path) in str(raised.value)
    assert case.problem in str(raised.value)


@pytest.mark.parametrize("kind", FILE_LEVEL_CASES)
def test_cli_file_level_problem_exits_2_with_one_line_and_writes_nothing(
    kind: str, csv_builder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _make_input(FILE_LEVEL_CASES[kind], csv_builder, tmp_path)
    out = tmp_path / "out"

    code = main(["validate", str(path), "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("ccseg: error: ")
    assert FILE_LEVEL_CASES[kind].problem in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("kind", FILE_LEVEL_CASES)
def test_the_head_check_finds_the_same_problem_as_the_full_read(
    kind: str, csv_builder, tmp_path: Path
) -> None:
    # `ccseg run` and `score` check a file's head before Prefect starts; the message must be
    # the one the full read would give later.
    path = _make_input(FILE_LEVEL_CASES[kind], csv_builder, tmp_path)
    with pytest.raises(FileLevelError) as full:
        read_and_validate(path)

    with pytest.raises(FileLevelError) as head:
        check_file_head(path)

    assert str(head.value) == str(full.value)


def test_the_head_check_passes_a_file_whose_head_ends_inside_a_character(
    csv_builder, tmp_path: Path
) -> None:
    text = csv_builder.text(csv_builder.with_cells(1, CUST_ID="Té0002")).encode()
    path = tmp_path / "accents.csv"
    path.write_bytes(text)
    cut = text.index("é".encode()) + 1  # the first of the two bytes of é

    assert check_file_head(path, head_bytes=cut) == path


# ---- Row-level problems: exit 0, bad rows quarantined with reasons, counts that add up. ----


@dataclass(frozen=True)
class RowLevelCase:
    """A CSV text and its outcome: rows read, and the reasons expected on each quarantined line."""

    make: Callable[[object], bytes]
    rows_in: int
    quarantined: dict[int, set[str]]  # line number -> reasons
    soft_findings: dict[str, int] | None = None
    bug: pytest.MarkDecorator | None = None


def _cells(position: int, **cells: str) -> Callable[[object], bytes]:
    return lambda b: _text(b, b.with_cells(position, **cells))


def _cells_in(*changes: tuple[int, str, str]) -> Callable[[object], bytes]:
    def make(csv_builder) -> bytes:
        records = csv_builder.records()
        for position, column, text in changes:
            records[position][column] = text
        return _text(csv_builder, records)

    return make


def _lines(edit: Callable[[list[str]], list[str]]) -> Callable[[object], bytes]:
    return lambda b: _joined(edit(b.lines()))


def _truncated_last_line(csv_builder) -> bytes:
    lines = csv_builder.lines()
    return ("\n".join(lines[:-1]) + "\n" + lines[-1][:24]).encode()


def _unclosed_quote_on_last_line(csv_builder) -> bytes:
    lines = csv_builder.lines()
    lines[-1] = '"' + lines[-1]
    return _joined(lines)


FIELD_COUNT = "field_count:expected 18"

ROW_LEVEL_CASES: dict[str, RowLevelCase] = {
    "repeated_header_line": RowLevelCase(
        _lines(lambda ls: [*ls[:3], ls[0], *ls[3:]]), 5, {4: {"repeated_header"}}
    ),
    "repeated_header_line_lower_case": RowLevelCase(
        _lines(lambda ls: [*ls[:2], ls[0].lower(), *ls[2:]]), 5, {3: {"repeated_header"}}
    ),
    "truncated_last_line": RowLevelCase(_truncated_last_line, 4, {5: {FIELD_COUNT}}),
    "line_with_extra_fields": RowLevelCase(
        _lines(lambda ls: [ls[0], ls[1], ls[2] + ",0.0,extra", *ls[3:]]), 4, {3: {FIELD_COUNT}}
    ),
    "unclosed_quote_on_last_line": RowLevelCase(
        _unclosed_quote_on_last_line, 4, {5: {FIELD_COUNT}}
    ),
    "text_in_numeric_columns": RowLevelCase(
        _cells_in((0, "BALANCE", "abc"), (2, "TENURE", "twelve")),
        4,
        {2: {"not_a_number:BALANCE"}, 4: {"not_a_number:TENURE"}},
    ),
    "infinities": RowLevelCase(
        _cells_in((0, "BALANCE", "inf"), (1, "PAYMENTS", "-inf"), (2, "CREDIT_LIMIT", "Infinity")),
        4,
        {
            2: {"not_finite:BALANCE"},
            3: {"not_finite:PAYMENTS"},
            4: {"not_finite:CREDIT_LIMIT"},
        },
    ),
    "thousands_separator_quoted": RowLevelCase(
        _cells(0, BALANCE='"1,234.50"'), 4, {2: {"not_a_number:BALANCE"}}
    ),
    "decimal_comma_quoted": RowLevelCase(
        _cells(1, PAYMENTS='"900,5"'), 4, {3: {"not_a_number:PAYMENTS"}}
    ),
    "na_tokens_in_required_columns": RowLevelCase(
        _cells_in((0, "BALANCE", "NaN"), (1, "PAYMENTS", "null"), (2, "TENURE", "NA")),
        4,
        {
            2: {"missing_value:BALANCE"},
            3: {"missing_value:PAYMENTS"},
            4: {"missing_value:TENURE"},
        },
    ),
    "na_tokens_in_nullable_columns": RowLevelCase(
        _cells_in(
            (0, "CREDIT_LIMIT", "NaN"),
            (1, "MINIMUM_PAYMENTS", "null"),
            (2, "MINIMUM_PAYMENTS", "NA"),
        ),
        4,
        {},
        soft_findings={"credit_limit_missing": 1, "minimum_payments_missing": 2},
    ),
    "negative_amounts": RowLevelCase(
        _cells_in((1, "CASH_ADVANCE", "-850.75"), (3, "PAYMENTS", "-0.01")),
        4,
        {3: {"negative_value:CASH_ADVANCE"}, 5: {"negative_value:PAYMENTS"}},
    ),
    "duplicated_id_identical_row": RowLevelCase(
        _lines(lambda ls: [*ls, ls[1]]), 5, {6: {"duplicate_row"}}
    ),
    "duplicated_id_conflicting_row": RowLevelCase(
        _cells(2, CUST_ID="T0001"),
        4,
        {2: {"cust_id_duplicated:CUST_ID"}, 4: {"cust_id_duplicated:CUST_ID"}},
    ),
    "missing_cust_id": RowLevelCase(_cells(2, CUST_ID=""), 4, {4: {"cust_id_missing:CUST_ID"}}),
    "blank_cust_id": RowLevelCase(_cells(2, CUST_ID="   "), 4, {4: {"cust_id_missing:CUST_ID"}}),
    "na_token_as_cust_id": RowLevelCase(
        _cells(2, CUST_ID="NA"), 4, {4: {"cust_id_missing:CUST_ID"}}
    ),
    "fractional_counts": RowLevelCase(
        _cells_in((0, "PURCHASES_TRX", "8.5"), (1, "CASH_ADVANCE_TRX", "4.25")),
        4,
        {2: {"count_not_whole:PURCHASES_TRX"}, 3: {"count_not_whole:CASH_ADVANCE_TRX"}},
    ),
    "tenure_0_and_13": RowLevelCase(
        _cells_in((0, "TENURE", "0"), (1, "TENURE", "13")),
        4,
        {2: {"tenure_out_of_range:TENURE"}, 3: {"tenure_out_of_range:TENURE"}},
    ),
    "frequency_2_5": RowLevelCase(
        _cells(0, PURCHASES_FREQUENCY="2.5"),
        4,
        {2: {"frequency_out_of_range:PURCHASES_FREQUENCY"}},
    ),
    "several_problems_in_one_file": RowLevelCase(
        _cells_in((0, "BALANCE", "abc"), (1, "TENURE", ""), (3, "CUST_ID", "T0003")),
        4,
        {
            2: {"not_a_number:BALANCE"},
            3: {"missing_value:TENURE"},
            4: {"cust_id_duplicated:CUST_ID"},
            5: {"cust_id_duplicated:CUST_ID"},
        },
    ),
}


def _row_params() -> list[object]:
    return [
        pytest.param(kind, marks=[case.bug] if case.bug else [], id=kind)
        for kind, case in ROW_LEVEL_CASES.items()
    ]


def _reasons_by_line(quarantine: pd.DataFrame) -> dict[int, set[str]]:
    return {
        int(line): set(reasons.split("; "))
        for line, reasons in zip(quarantine["line"], quarantine["reasons"], strict=True)
    }


@pytest.mark.parametrize("kind", _row_params())
def test_row_level_problem_quarantines_rows_with_reasons(
    kind: str, csv_builder, write_file
) -> None:
    case = ROW_LEVEL_CASES[kind]

    result = read_and_validate(write_file(case.make(csv_builder)))

    summary = result.summary
    assert summary.rows_in == case.rows_in
    assert summary.rows_in == summary.rows_clean + summary.rows_quarantined
    assert _reasons_by_line(result.quarantine) == case.quarantined
    assert len(result.clean) == summary.rows_clean
    if case.soft_findings is not None:
        found = {rule: n for rule, n in summary.soft_rule_counts.items() if n}
        assert found == case.soft_findings


@pytest.mark.parametrize("kind", _row_params())
def test_cli_row_level_problem_exits_0_and_writes_all_three_files(
    kind: str, csv_builder, write_file, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = ROW_LEVEL_CASES[kind]
    path = write_file(case.make(csv_builder))
    out = tmp_path / "out"

    code = main(["validate", str(path), "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == ""
    quarantined = len(case.quarantined)
    clean = case.rows_in - quarantined
    assert f"{case.rows_in} rows in, {clean} clean, {quarantined} quarantined" in captured.out
    assert sorted(p.name for p in out.iterdir()) == [
        "clean.parquet",
        "quarantine.csv",
        "validation.json",
    ]


def test_catalogue_covers_at_least_twenty_kinds_of_malformed_file() -> None:
    assert len(FILE_LEVEL_CASES) + len(ROW_LEVEL_CASES) >= 20


# ---- Tolerated variations: same clean frame as the canonical file. ----


def _shuffled_columns(csv_builder) -> bytes:
    columns = list(reversed(RAW_COLUMNS[9:])) + list(RAW_COLUMNS[:9])
    return _text(csv_builder, columns=columns)


def _extra_columns(csv_builder) -> bytes:
    records = csv_builder.records()
    for position, record in enumerate(records):
        record.update({"Region": f"north-{position}", "NOTES": "", "SCORE": "0.5"})
    columns = ["Region", *RAW_COLUMNS[:5], "NOTES", *RAW_COLUMNS[5:], "SCORE"]
    return _text(csv_builder, records, columns)


def _header_edit(edit: Callable[[list[str]], list[str]]) -> Callable[[object], bytes]:
    def make(csv_builder) -> bytes:
        lines = csv_builder.lines()
        lines[0] = ",".join(edit(lines[0].split(",")))
        return _joined(lines)

    return make


@dataclass(frozen=True)
class Variation:
    """A change a real file drop may carry without changing meaning."""

    make: Callable[[object], bytes]
    extra_columns: tuple[str, ...] = ()
    blank_lines: int = 0


VARIATIONS: dict[str, Variation] = {
    "column_order_shuffled": Variation(_shuffled_columns),
    "extra_columns": Variation(_extra_columns, ("Region", "NOTES", "SCORE")),
    "utf8_bom": Variation(lambda b: b"\xef\xbb\xbf" + _text(b)),
    "crlf_line_endings": Variation(lambda b: b.text(newline="\r\n").encode()),
    "whitespace_around_header_names": Variation(
        _header_edit(lambda names: [f"  {n}\t " for n in names])
    ),
    "lower_case_header_names": Variation(_header_edit(lambda names: [n.lower() for n in names])),
    "blank_lines": Variation(
        lambda b: _joined(["", *b.lines()[:2], "", "   ", *b.lines()[2:], ""]), blank_lines=3
    ),
    "bom_crlf_lower_case_together": Variation(
        lambda b: b"\xef\xbb\xbf" + b.text(newline="\r\n").replace("CUST_ID", "cust_id").encode()
    ),
    "no_final_newline": Variation(lambda b: _text(b).rstrip(b"\n")),
}


@pytest.mark.parametrize("kind", VARIATIONS)
def test_tolerated_variation_gives_the_canonical_clean_frame(
    kind: str, csv_builder, write_file
) -> None:
    variation = VARIATIONS[kind]
    canonical = read_and_validate(write_file(_text(csv_builder), "canonical.csv"))

    result = read_and_validate(write_file(variation.make(csv_builder), "variation.csv"))

    pd.testing.assert_frame_equal(result.clean, canonical.clean)
    assert result.summary.rows_quarantined == 0
    assert result.summary.extra_columns == list(variation.extra_columns)
    assert result.summary.blank_lines_skipped == variation.blank_lines
    assert result.summary.soft_rule_counts == canonical.summary.soft_rule_counts
