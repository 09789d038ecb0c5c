"""Ingest test fixtures: four hand-written synthetic CC GENERAL rows and builders of CSV files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from schemas.columns import RAW_COLUMNS

# Invented customers (never real rows), chosen so that none breaks a hard rule or trips a soft one:
# a revolver who buys on both plans, a cash-advance user, a transactor who pays in full, a dormant
# card. Catalogue cases mutate copies of them, so every finding is caused by the mutation.
# fmt: off
SYNTHETIC_ROWS: tuple[tuple[str, ...], ...] = (
    # CUST_ID, BALANCE, BALANCE_FREQUENCY, PURCHASES, ONEOFF_PURCHASES, INSTALLMENTS_PURCHASES,
    # CASH_ADVANCE, PURCHASES_FREQUENCY, ONEOFF_PURCHASES_FREQUENCY,
    # PURCHASES_INSTALLMENTS_FREQUENCY, CASH_ADVANCE_FREQUENCY, CASH_ADVANCE_TRX, PURCHASES_TRX,
    # CREDIT_LIMIT, PAYMENTS, MINIMUM_PAYMENTS, PRC_FULL_PAYMENT, TENURE
    ("T0001", "1000.5", "1.0", "300.0", "100.0", "200.0", "0.0", "0.5", "0.25", "0.416667",
     "0.0", "0", "8", "3000.0", "500.0", "200.0", "0.0", "12"),
    ("T0002", "2250.25", "0.909091", "0.0", "0.0", "0.0", "850.75", "0.0", "0.0", "0.0",
     "0.25", "4", "0", "4000.0", "900.0", "310.4", "0.0", "12"),
    ("T0003", "45.1", "0.5", "1250.0", "1250.0", "0.0", "0.0", "0.666667", "0.666667", "0.0",
     "0.0", "0", "14", "7500.0", "1300.0", "60.25", "1.0", "6"),
    ("T0004", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0",
     "0.0", "0", "0", "1000.0", "0.0", "0.0", "0.0", "9"),
)
# fmt: on

Record = dict[str, str]


@dataclass(frozen=True)
class CsvBuilder:
    """Builds CSV text from the synthetic rows; every call hands out fresh copies to mutate."""

    rows: tuple[tuple[str, ...], ...] = SYNTHETIC_ROWS

    def records(self) -> list[Record]:
        return [dict(zip(RAW_COLUMNS, row, strict=True)) for row in self.rows]

    def with_cells(self, position: int, **cells: str) -> list[Record]:
        """All records, with the given cells of record `position` replaced by raw text."""
        records = self.records()
        records[position].update(cells)
        return records

    def line(self, record: Record, columns: Sequence[str] = RAW_COLUMNS) -> str:
        # Cells are written verbatim: a case that needs quoting writes the quotes itself.
        return ",".join(record[column] for column in columns)

    def lines(
        self, records: Iterable[Record] | None = None, columns: Sequence[str] = RAW_COLUMNS
    ) -> list[str]:
        """The header line, then one line per record, in `columns` order."""
        rows = self.records() if records is None else records
        return [",".join(columns), *(self.line(r, columns) for r in rows)]

    def text(
        self,
        records: Iterable[Record] | None = None,
        columns: Sequence[str] = RAW_COLUMNS,
        newline: str = "\n",
    ) -> str:
        return newline.join(self.lines(records, columns)) + newline


@pytest.fixture(scope="session")
def csv_builder() -> CsvBuilder:
    return CsvBuilder()


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str | bytes, str], Path]:
    """Write text (UTF-8) or raw bytes to a file under tmp_path and return its path."""

    def write(content: str | bytes, name: str = "cc_general.csv") -> Path:
        path = tmp_path / name
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        return path

    return write
