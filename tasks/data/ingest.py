"""Read a CC GENERAL file and split it into a clean frame, a quarantine table and a summary.

Invariant: rows_in == rows_clean + rows_quarantined. A quarantined row keeps its original text
(every field exactly as read) plus its line number and every reason it broke.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import pyarrow as pa
from pandera.pandas import DataFrameSchema
from prefect import task
from prefect.cache_policies import NO_CACHE

from core.errors import FileLevelError, ParameterError
from core.paths import require_input_file
from schemas.columns import CUST_ID, NUMERIC_COLUMNS, RAW_COLUMNS
from schemas.raw import (
    ARROW_TEXT,
    CLEAN_DTYPES,
    HARD_RULES,
    HARD_SCHEMA,
    PANDERA_CHECK_TO_RULE,
    RULES,
    SOFT_RULES,
    breaks_soft_rule,
)
from tasks.data.repeats import repeated_ids
from tasks.retries import retry_unless_user_error

# Text that real exports use for "no value"; anything else unparseable is `not_a_number`.
NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
LINE = "line"
EXTRA_FIELDS = "extra_fields"
REASONS = "reasons"
# Enough of a file's start for its header and first rows (CC GENERAL rows are ~100 bytes).
HEAD_BYTES = 1 << 16
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class ValidationSummary:
    """What validation found; `validation.json` is this, as JSON."""

    source: str
    sha256: str
    rows_in: int
    rows_clean: int
    rows_quarantined: int
    hard_rule_counts: dict[str, int]
    soft_rule_counts: dict[str, int]
    extra_columns: list[str] = field(default_factory=list)
    blank_lines_skipped: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class IngestResult:
    """The three outputs of validation; `clean` follows the clean-frame contract."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    summary: ValidationSummary


@dataclass(frozen=True)
class RawTable:
    """A CSV as text: the normalised header, every data row as fields, and its line number."""

    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]
    extra_columns: list[str]
    blank_lines_skipped: int
    sha256: str = ""  # of the bytes that were read, so the recorded hash is of what was validated


def is_parquet(path: Path) -> bool:
    """Whether the file starts with Parquet's magic bytes (the name's suffix is not trusted)."""
    try:
        with Path(path).open("rb") as stream:
            return stream.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC
    except OSError:
        return False  # the CSV path reports the file's problem in its own words


def _text_of(path: Path, data: bytes, complete: bool = True) -> str:
    """The bytes as text, or the file-level problem; `complete=False` for the head of a file."""
    if complete and not data.strip():
        raise FileLevelError(path, "file is empty")
    if b"\x00" in data[:8192]:
        raise FileLevelError(path, "binary content (NUL bytes): not a CSV text file")
    try:
        # utf-8-sig drops a byte-order mark that spreadsheet exports add.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # The head of a file may end inside a character: only a byte well before the cut counts.
        if not complete and exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8-sig")
        raise FileLevelError(
            path, f"not UTF-8 text (undecodable byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def _decode(path: Path) -> tuple[str, str]:
    """The file's text and the sha256 of its bytes (one read: the file may change meanwhile)."""
    require_input_file(path)  # a FIFO would make the read below wait forever
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileLevelError(path, f"cannot be read ({exc.strerror})") from None
    return _text_of(path, data), hashlib.sha256(data).hexdigest()


def check_file_head(path: Path, what: str = "data file", head_bytes: int = HEAD_BYTES) -> Path:
    """The file-level checks that need only the file's start: a bad file fails before any work.

    Kind and readability, empty, binary, not UTF-8, another delimiter, required columns missing,
    header only. The full read repeats them; this one reads at most `head_bytes`.
    """
    path = require_input_file(Path(path), what)
    if is_parquet(path):
        from tasks.data.parquet_input import check_parquet_head  # it builds on this module

        return check_parquet_head(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(head_bytes)
            complete = not stream.read(1)
    except OSError as exc:
        raise FileLevelError(path, f"cannot be read ({exc.strerror})") from None
    if not head.strip() and complete:
        raise FileLevelError(path, "file is empty")
    text = _text_of(path, head, complete)
    lines = text.splitlines()
    if not complete:
        lines = lines[:-1]  # the last line may be cut short
    non_blank = [line for line in lines if line.strip()]
    if not non_blank:
        return path
    header = next(csv.reader([non_blank[0]]))
    _normalise_header(path, header)
    if complete and len(non_blank) == 1:
        raise FileLevelError(path, "header only: the file has no data rows")
    return path


def _normalise_header(path: Path, header: list[str]) -> tuple[list[str], list[str]]:
    names = [name.strip().upper() for name in header]
    if len(names) == 1 and any(sep in header[0] for sep in ";\t|"):
        sep = next(s for s in ";\t|" if s in header[0])
        raise FileLevelError(path, f"looks {sep!r}-delimited; CC GENERAL files are comma-separated")
    duplicated = sorted({n for n in names if names.count(n) > 1 and n})
    if duplicated:
        raise FileLevelError(path, f"column(s) named twice in the header: {', '.join(duplicated)}")
    missing = [c for c in RAW_COLUMNS if c not in names]
    if missing:
        raise FileLevelError(
            path,
            f"required column(s) missing: {', '.join(missing)}"
            f" (found: {', '.join(names) or 'none'})",
        )
    extra = [
        original.strip() for original, n in zip(header, names, strict=True) if n not in RAW_COLUMNS
    ]
    return names, extra


def read_raw_table(path: Path) -> RawTable:
    """Parse the file as CSV text without interpreting values; file-level problems raise."""
    text, sha256 = _decode(path)
    lines = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(lines)
        while not any(field.strip() for field in header):
            header = next(lines)
    except StopIteration:
        raise FileLevelError(path, "file is empty") from None
    except csv.Error as exc:
        raise FileLevelError(path, f"not a readable CSV ({exc})") from None
    names, extra = _normalise_header(path, header)
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    blank = 0
    try:
        for fields in lines:
            if not (fields and fields[0].strip()) and not any(f.strip() for f in fields):
                blank += 1
                continue
            rows.append(fields)
            line_numbers.append(lines.line_num)
    except csv.Error as exc:
        raise FileLevelError(path, f"not a readable CSV at line {lines.line_num} ({exc})") from None
    if not rows:
        raise FileLevelError(path, "header only: the file has no data rows")
    return RawTable(names, rows, line_numbers, extra, blank, sha256)


def _text_frame(table: RawTable) -> tuple[pd.DataFrame, pd.Series]:
    """Align rows to the header; a row of the wrong width is padded and flagged `field_count`.

    Fields beyond the header's width are kept, comma-joined, in `extra_fields` so that a
    quarantined row still holds all of its original text.
    """
    width = len(table.header)
    wrong = [len(r) != width for r in table.rows]
    ragged = any(wrong)
    # The usual file has no ragged line: its rows are used as they are, not copied one by one.
    aligned = [(r + [""] * width)[:width] for r in table.rows] if ragged else table.rows
    text = pd.DataFrame(aligned, columns=table.header, dtype=object)
    text.insert(0, LINE, table.line_numbers)
    if ragged:
        surplus = [",".join(r[width:]) for r in table.rows]
        if any(surplus):
            text[EXTRA_FIELDS] = surplus
    return text, pd.Series(wrong, index=text.index)


def _coerce_numbers(text: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed frame (NaN where no number) and a mask of cells whose text is not a number."""
    typed = pd.DataFrame(index=text.index)
    typed[CUST_ID] = typed_ids(text[CUST_ID])
    not_a_number = pd.DataFrame(False, index=text.index, columns=list(NUMERIC_COLUMNS))
    for column in NUMERIC_COLUMNS:
        typed[column], not_a_number[column] = parse_numbers(text[column])
    return typed, not_a_number


def typed_ids(cells: pd.Series) -> pd.Series:
    """Customer ids as stripped Arrow text (ARROW_TEXT); a null, empty text or an NA token is a
    missing id: "NA" or "null" written as an id is not a customer called "NA"."""
    ids = cells.astype(ARROW_TEXT).str.strip()
    return ids.mask(ids.str.lower().isin(NA_TOKENS).fillna(True).to_numpy(dtype=bool))


def parse_numbers(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(float64 values, mask of cells whose text is not a number) for one text column.

    Most cells parse as written (pandas' C parser, no Python call per cell); only the others are
    stripped and told apart (an NA token is a missing value, other text is not a number). The
    answer is the one stripping every cell first gives (that took ~0.5 s per column per 1M).
    """
    values = pd.to_numeric(cells, errors="coerce").astype("float64")
    unparsed = values.isna().to_numpy()
    is_na_token = np.zeros(len(cells), dtype=bool)
    if unparsed.any():
        stripped = cells[unparsed].str.strip()
        na = stripped.str.lower().isin(NA_TOKENS).to_numpy()
        again = pd.to_numeric(stripped.where(~na), errors="coerce").astype("float64")
        values[unparsed] = again.to_numpy()  # text with odd spaces (" 1.5\u00a0") parses here
        is_na_token[unparsed] = na
    return values, values.isna() & ~is_na_token


# The hard schema's columns in two halves, judged on two threads: its checks run in NumPy,
# without the GIL (10M rows: 3.4 s whole, 2.1 s in halves). Every column gets the same checks.
HARD_SCHEMA_PARTS = tuple(
    HARD_SCHEMA.select_columns(list(HARD_SCHEMA.columns)[part::2]) for part in range(2)
)


def _hard_failures(typed: pd.DataFrame) -> pd.DataFrame:
    """Rows and reasons from the hard Pandera schema, as (index, reason) pairs."""
    with ThreadPoolExecutor(len(HARD_SCHEMA_PARTS), thread_name_prefix="hard-schema") as pool:
        found = list(pool.map(lambda schema: _failure_cases(schema, typed), HARD_SCHEMA_PARTS))
    cases = pd.concat(found, ignore_index=True)
    if cases.empty:
        return pd.DataFrame({"index": pd.Series(dtype=int), "reason": pd.Series(dtype=str)})
    rules = cases["check"].astype(str).map(lambda c: PANDERA_CHECK_TO_RULE.get(c, c))
    rules = rules.where(
        ~((rules == "missing_value") & (cases["column"] == CUST_ID)), "cust_id_missing"
    )
    return pd.DataFrame(
        {"index": cases["index"].astype(int), "reason": rules + ":" + cases["column"].astype(str)}
    )


def _failure_cases(schema: DataFrameSchema, typed: pd.DataFrame) -> pd.DataFrame:
    """Pandera's failure cases with a row index (index, column, check); empty when none."""
    try:
        # inplace: nothing is coerced, so Pandera's defensive copy (1.4 GB at 10M rows) is waste.
        schema.validate(typed, lazy=True, inplace=True)
    except pandera.errors.SchemaErrors as errors:
        return errors.failure_cases.dropna(subset=["index"])[["index", "column", "check"]]
    return pd.DataFrame(columns=["index", "column", "check"])


def _structural_reasons(
    text: pd.DataFrame, wrong_width: pd.Series, header: list[str]
) -> pd.DataFrame:
    fields = text[header]
    repeated_header = _repeated_header_lines(fields, header)
    duplicate_row = _duplicate_lines(fields) & ~repeated_header
    found = [
        (wrong_width, f"field_count:expected {len(header)}"),
        (repeated_header, "repeated_header"),
        (duplicate_row, "duplicate_row"),
    ]
    pieces = [pd.DataFrame({"index": mask[mask].index, "reason": reason}) for mask, reason in found]
    return pd.concat(pieces, ignore_index=True)


def _repeated_header_lines(fields: pd.DataFrame, header: list[str]) -> pd.Series:
    """Lines whose every field, stripped and upper-cased, is the header's name for it.

    Only lines whose first field is the first name are compared whole (stripping every field of
    1M lines with pandas' Python string methods took 19 s).
    """
    first = fields.iloc[:, 0].astype(ARROW_TEXT).str.strip().str.upper() == header[0]
    candidate = first.fillna(False).to_numpy(dtype=bool)
    found = pd.Series(False, index=fields.index)
    if candidate.any():
        names = fields[candidate].apply(lambda column: column.str.strip().str.upper())
        found[candidate] = (names == header).all(axis=1).to_numpy()
    return found


def _duplicate_lines(fields: pd.DataFrame) -> pd.Series:
    """`fields.duplicated(keep="first")`, compared only among lines whose CUST_ID text repeats
    (two equal lines have equal ids; 1M lines: one pass over the ids instead of 18 columns)."""
    repeated = repeated_ids(pa.array(fields[CUST_ID], type=pa.string()))
    found = pd.Series(False, index=fields.index)
    if repeated.any():
        found[repeated] = fields[repeated].duplicated(keep="first").to_numpy()
    return found


def _soft_counts(clean: pd.DataFrame) -> dict[str, int]:
    # The soft schema's own predicates, applied directly: Pandera's lazy validation builds a
    # failure-case table only to be counted here (75 % of ingest time on the real file).
    return {rule: int(breaks_soft_rule(clean, rule).sum()) for rule in SOFT_RULES}


def _not_a_number_reasons(not_a_number: pd.DataFrame) -> pd.DataFrame:
    # np.nonzero, not DataFrame.stack: stacking 10M rows x 17 columns built a 170M-row index.
    rows, columns = np.nonzero(not_a_number.to_numpy(dtype=bool))
    reasons = np.array([f"not_a_number:{c}" for c in not_a_number.columns], dtype=object)
    return pd.DataFrame({"index": not_a_number.index.to_numpy()[rows], "reason": reasons[columns]})


def _drop_echoed_missing(reasons: pd.DataFrame, not_a_number: pd.DataFrame) -> pd.DataFrame:
    """Drop `missing_value:COL` where the cell has text that is not a number (named once)."""
    parts = reasons["reason"].str.split(":", n=1, expand=True).reindex(columns=[0, 1])
    is_missing = (parts[0] == "missing_value") & parts[1].isin(not_a_number.columns)
    echoed = pd.Series(False, index=reasons.index, dtype=bool)
    if not is_missing.any():
        return reasons
    echoed[is_missing] = [
        bool(not_a_number.at[row, column])
        for row, column in zip(
            reasons.loc[is_missing, "index"], parts.loc[is_missing, 1], strict=True
        )
    ]
    return reasons[~echoed]


def _rule_of(reason: str) -> str:
    return reason.split(":", 1)[0]


def validate_table(table: RawTable, source: str, sha256: str) -> IngestResult:
    """Apply the contract to a parsed table; pure, so tests can feed tables built in memory."""
    text, wrong_width = _text_frame(table)
    structural = _structural_reasons(text, wrong_width, table.header)
    typed, not_a_number = _coerce_numbers(text)
    return split_rows(
        text,
        typed,
        not_a_number,
        structural,
        source=source,
        sha256=sha256,
        extra_columns=table.extra_columns,
        blank_lines_skipped=table.blank_lines_skipped,
    )


def _clean_frame(typed: pd.DataFrame, keep: np.ndarray | None) -> pd.DataFrame:
    """The kept rows in the contract's columns and dtypes, built in one copy (`keep` None: all).

    Column by column rather than select, cast and re-index, each of which copied the frame
    (10M customers: 5 GB of transient memory).
    """
    columns = {}
    for name in RAW_COLUMNS:
        values = typed[name].to_numpy()
        columns[name] = (values if keep is None else values[keep]).astype(
            CLEAN_DTYPES[name], copy=False
        )
    return pd.DataFrame(columns, copy=False)  # the one copy: gathering columns into blocks


def split_rows(
    original: pd.DataFrame,
    typed: pd.DataFrame,
    not_a_number: pd.DataFrame,
    structural: pd.DataFrame,
    *,
    source: str,
    sha256: str,
    extra_columns: list[str],
    blank_lines_skipped: int = 0,
) -> IngestResult:
    """Clean frame, quarantine (original values + reasons) and summary, from any input format.

    `original` holds each row as read (with its `line`), `typed` the numbers, `not_a_number`
    the cells whose value is not a number, `structural` (index, reason) pairs found before the
    value rules.
    """
    text = original
    # Value rules only judge rows that are structurally sound: a copy or a ragged line would
    # otherwise drag its original into a uniqueness failure and bury its one real reason.
    sound = ~text.index.isin(structural["index"])
    everything_sound = bool(sound.all())  # the usual case: judge the frames as they are, no copy
    values = pd.concat(
        [
            _hard_failures(typed if everything_sound else typed[sound]),
            _not_a_number_reasons(not_a_number if everything_sound else not_a_number[sound]),
        ],
        ignore_index=True,
    )
    # A cell that is not a number also fails nullability: name the real cause once.
    values = _drop_echoed_missing(values, not_a_number)
    reasons = pd.concat([structural, values], ignore_index=True).drop_duplicates()
    by_row = reasons.groupby("index")["reason"].apply(lambda r: "; ".join(sorted(r)))
    bad = text.index.isin(by_row.index)

    quarantine = text.loc[bad].copy()
    quarantine[REASONS] = by_row.reindex(quarantine.index)
    quarantine = quarantine.reset_index(drop=True)

    clean = _clean_frame(typed, None if not bad.any() else ~bad)
    hard_counts = dict.fromkeys(HARD_RULES, 0)
    rules_per_row = reasons.assign(rule=reasons["reason"].map(_rule_of)).drop_duplicates(
        ["index", "rule"]
    )
    for rule, n in rules_per_row["rule"].value_counts().items():
        hard_counts[str(rule)] = int(n)
    summary = ValidationSummary(
        source=source,
        sha256=sha256,
        rows_in=len(text),
        rows_clean=len(clean),
        rows_quarantined=len(quarantine),
        hard_rule_counts=hard_counts,
        soft_rule_counts=_soft_counts(clean),
        extra_columns=extra_columns,
        blank_lines_skipped=blank_lines_skipped,
    )
    return IngestResult(clean=clean, quarantine=quarantine, summary=summary)


def read_and_validate(path: Path) -> IngestResult:
    """Read `path` and apply the contract; raises FileLevelError before anything is written.

    A Parquet file (recognised by its magic bytes) goes through tasks/data/parquet_input.py:
    same contract, same quarantine, same invariant.
    """
    path = Path(path)
    if is_parquet(path):
        from tasks.data.parquet_input import read_and_validate_parquet  # it builds on this module

        return read_and_validate_parquet(path)
    table = read_raw_table(path)
    return validate_table(table, source=str(path), sha256=table.sha256)


def require_clean_rows(result: IngestResult, quarantine_file: Path | None = None) -> IngestResult:
    """A file whose every row was quarantined leaves nothing to segment or score: say why.

    `quarantine_file` names where the rejected rows and their reasons were already written.
    """
    summary = result.summary
    if summary.rows_clean:
        return result
    top = sorted(((n, rule) for rule, n in summary.hard_rule_counts.items() if n), reverse=True)[:3]
    reasons = ", ".join(f"{rule} {n:,}" for n, rule in top)
    where = (
        f"each row with its reasons is in {quarantine_file}"
        if quarantine_file is not None
        else f"see each row's reasons with `ccseg validate {summary.source} --out DIR`"
    )
    raise FileLevelError(
        summary.source,
        f"all {summary.rows_in:,} rows were quarantined ({reasons}); nothing to use; {where}",
    )


def write_outputs(result: IngestResult, out_dir: Path) -> dict[str, Path]:
    """Write clean.parquet, quarantine.csv and validation.json, each atomically (temp + rename)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"output folder {out_dir} is an existing file, not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = {
        "clean": out_dir / "clean.parquet",
        "quarantine": out_dir / "quarantine.csv",
        "validation": out_dir / "validation.json",
    }
    staged = {name: path.with_name(f".{path.name}.tmp") for name, path in targets.items()}
    result.clean.to_parquet(staged["clean"], index=False)
    result.quarantine.to_csv(staged["quarantine"], index=False)
    summary = result.summary.to_dict() | {"rules": {n: asdict(r) for n, r in RULES.items()}}
    staged["validation"].write_text(json.dumps(summary, indent=2) + "\n")
    for name, tmp in staged.items():
        tmp.replace(targets[name])
    return targets


@task(name="write-validation", cache_policy=NO_CACHE)
def write_validation(result: IngestResult, out_dir: Path) -> dict[str, Path]:
    """Prefect task: `write_outputs`, so that a flow goes on while the files are written.

    No cache key: it would hash the whole batch.
    """
    return write_outputs(result, out_dir)


@task(
    name="validate-data",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_unless_user_error,
)
def validate_data(path: Path) -> IngestResult:
    """Prefect task: read and validate; retried only on I/O, never on a contract failure."""
    return read_and_validate(path)
