"""Parquet input: the same contract, quarantine and invariant as CSV, without text round-trips.

A CSV is read as text so that a quarantined row keeps every field exactly as written. A Parquet
file is already typed: numeric columns go straight to float64 (a typed number cannot be "not a
number"; a null is a missing value), and only a column stored as text is parsed like the CSV's.
Rows are numbered from 1 in the `line` column (the row's position in the file; there is no
header line). A quarantined row keeps its values as stored. The recorded sha256 is of the bytes
that were parsed (one read).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import FileLevelError
from core.paths import require_input_file
from schemas.columns import CUST_ID, NUMERIC_COLUMNS
from schemas.raw import ARROW_TEXT
from tasks.data.ingest import (
    LINE,
    IngestResult,
    _normalise_header,
    parse_numbers,
    split_rows,
    typed_ids,
)
from tasks.data.repeats import repeated_ids

_ARROW_TEXT_TYPES = {pa.string(): ARROW_TEXT, pa.large_string(): ARROW_TEXT}


def check_parquet_head(path: Path) -> Path:
    """The file-level checks that need only the footer: readable, required columns, some rows."""
    try:
        metadata = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError) as exc:
        raise FileLevelError(path, f"not a readable Parquet file ({exc})") from None
    _normalise_header(path, [str(name) for name in metadata.schema.names])
    if metadata.num_rows == 0:
        raise FileLevelError(path, "no data rows (the Parquet file has a schema only)")
    return path


def _numbers(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(float64 values, mask of values that are not numbers) for one column of any stored type.

    A column stored as text is read as a CSV's is; a null is a missing value, as empty text is.
    """
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.astype("float64", copy=False)  # float64 already: shared, not copied
        return values, pd.Series(False, index=column.index)
    return parse_numbers(column.astype(ARROW_TEXT).fillna(""))


def _sha256_and_table(path: Path) -> tuple[str, pa.Table]:
    """The file's sha256 and its table, from one read: the hash is of the bytes that were parsed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileLevelError(path, f"cannot be read ({exc.strerror})") from None
    try:
        return hashlib.sha256(data).hexdigest(), pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise FileLevelError(path, f"not a readable Parquet file ({exc})") from None


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """The table as a frame, freeing Arrow's buffers as it goes (otherwise both live at once).

    Text stays in Arrow (10M ids as Python strings: 6 s to build, and slower to check)."""
    frame = table.to_pandas(
        split_blocks=True, self_destruct=True, types_mapper=_ARROW_TEXT_TYPES.get
    )
    pa.default_memory_pool().release_unused()
    return frame


def duplicate_rows(frame: pd.DataFrame, repeated_id: np.ndarray | None = None) -> pd.Series:
    """`frame.duplicated(keep="first")`, compared only where it can be true.

    Two equal rows have equal stored ids, so only rows whose CUST_ID repeats (`repeated_id`, from
    `repeated_ids`, computed here when not given) are compared: at 10M customers with unique ids,
    one pass over the ids instead of hashing 18 columns (13 s less). Those are compared through
    64-bit row hashes, and only rows that share a hash value by value, so a collision never marks
    a row.
    """
    if repeated_id is None:
        repeated_id = repeated_ids(pa.array(frame[CUST_ID].astype(ARROW_TEXT)))
    found = pd.Series(False, index=frame.index)
    if repeated_id.any():
        candidates = frame.loc[repeated_id]
        found.loc[candidates.index] = _duplicated_by_hash(candidates).to_numpy()
    return found


def _duplicated_by_hash(frame: pd.DataFrame) -> pd.Series:
    """`frame.duplicated(keep="first")` from row hashes (10M rows: 21 s and 1.9 GB less).

    Floats are hashed with -0.0 as 0.0 and one NaN, the equalities `duplicated` itself uses.
    """
    combined = np.zeros(len(frame), dtype=np.uint64)
    for column in frame.columns:
        values = frame[column].to_numpy()
        if values.dtype.kind == "f":
            values = np.where(np.isnan(values), np.nan, values + 0.0)
        combined = combined * np.uint64(1_000_003) ^ pd.util.hash_array(values)
    shared = pd.Series(combined, index=frame.index).duplicated(keep=False).to_numpy()
    found = pd.Series(False, index=frame.index)
    if shared.any():
        candidates = frame.loc[shared]
        found.loc[candidates.index] = candidates.duplicated(keep="first").to_numpy()
    return found


def _typed(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The typed frame the hard schema judges, and where a stored value is not a number.

    A shallow copy: numeric columns stored as float64 are the typed values already, and
    replacing a column of `typed` leaves `frame` (the rows as stored) untouched.
    """
    typed = frame.copy(deep=False)
    typed[CUST_ID] = typed_ids(frame[CUST_ID])
    not_a_number = {}
    for column in NUMERIC_COLUMNS:
        stored = frame[column]
        values, not_a_number[column] = _numbers(stored)
        if values.dtype != stored.dtype:  # else the same data: setting it copied 80 MB at 10M
            typed[column] = values
    return typed, pd.DataFrame(not_a_number, index=frame.index)


def _stored_columns(table: pa.Table) -> list[str]:
    """The table's columns as the frame will have them (a stored pandas index is not one)."""
    stored_index = (table.schema.pandas_metadata or {}).get("index_columns", [])
    return [str(name) for name in table.column_names if name not in stored_index]


def read_and_validate_parquet(path: Path) -> IngestResult:
    """Read a Parquet file and apply the contract (see the module docstring)."""
    path = require_input_file(Path(path))
    sha256, table = _sha256_and_table(path)
    stored = _stored_columns(table)
    names, extra = _normalise_header(path, stored)
    if table.num_rows == 0:
        raise FileLevelError(path, "no data rows (the Parquet file has a schema only)")
    # The stored ids' repeats are counted in Arrow on a second thread (C++, without the GIL)
    # while the table becomes a frame and its values are typed.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="repeated-ids") as pool:
        counting = pool.submit(repeated_ids, table.column(stored[names.index(CUST_ID)]))
        frame = _to_pandas(table)
        del table
        frame.columns = names
        if not (
            isinstance(frame.index, pd.RangeIndex)
            and frame.index.start == 0
            and frame.index.step == 1
        ):
            frame = frame.reset_index(drop=True)  # a stored pandas index; else no 2 GB copy
        typed, not_a_number = _typed(frame)
        repeated_id = counting.result()
    duplicate = duplicate_rows(frame, repeated_id)
    structural = pd.DataFrame(
        {"index": duplicate[duplicate].index.to_numpy(dtype=np.int64), "reason": "duplicate_row"}
    )
    frame.insert(0, LINE, np.arange(1, len(frame) + 1))
    return split_rows(
        frame,
        typed,
        not_a_number,
        structural,
        source=str(path),
        sha256=sha256,
        extra_columns=extra,
    )
