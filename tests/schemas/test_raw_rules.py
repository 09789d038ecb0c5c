"""Every CC GENERAL rule has a minimal failing case: a valid row mutated to break only that rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from schemas.columns import RAW_COLUMNS
from schemas.raw import HARD_RULES, HARD_SCHEMA, RULES, SOFT_RULES, SOFT_SCHEMA
from tasks.data.ingest import IngestResult, RawTable, validate_table

# Two invented customers (never real rows) that break no rule, hard or soft: a revolver who buys
# on both plans, and a cash-advance user who buys nothing. Columns in RAW_COLUMNS order.
VALID_LINES = (
    "R0001,1000.5,1.0,300.0,100.0,200.0,0.0,0.5,0.25,0.416667,0.0,0,8,3000.0,500.0,200.0,0.0,12",
    "R0002,2250.25,0.909091,0.0,0.0,0.0,850.75,0.0,0.0,0.0,0.25,4,0,4000.0,900.0,310.4,0.0,12",
)

Rows = list[list[str]]
Mutation = Callable[[Rows], Rows]


def _base_rows() -> Rows:
    return [line.split(",") for line in VALID_LINES]


def _cells(position: int, **cells: str) -> Mutation:
    def mutate(rows: Rows) -> Rows:
        for column, text in cells.items():
            rows[position][RAW_COLUMNS.index(column)] = text
        return rows

    return mutate


def _replace_row(position: int, fields: list[str]) -> Mutation:
    def mutate(rows: Rows) -> Rows:
        rows[position] = list(fields)
        return rows

    return mutate


def _drop_last_field(position: int) -> Mutation:
    def mutate(rows: Rows) -> Rows:
        rows[position] = rows[position][:-1]
        return rows

    return mutate


def _copy_row(source: int, onto: int) -> Mutation:
    def mutate(rows: Rows) -> Rows:
        rows[onto] = list(rows[source])
        return rows

    return mutate


@dataclass(frozen=True)
class RuleCase:
    """A mutation of the two valid rows, and the reasons each quarantined row must carry."""

    mutate: Mutation
    # Row position -> exact reasons; empty for a soft rule (the row stays clean).
    quarantined: dict[int, set[str]] = field(default_factory=dict)


RULE_CASES: dict[str, RuleCase] = {
    # Hard, structural.
    "field_count": RuleCase(_drop_last_field(1), {1: {"field_count:expected 18"}}),
    "repeated_header": RuleCase(_replace_row(1, list(RAW_COLUMNS)), {1: {"repeated_header"}}),
    "duplicate_row": RuleCase(_copy_row(0, onto=1), {1: {"duplicate_row"}}),
    # Hard, values.
    "cust_id_missing": RuleCase(_cells(0, CUST_ID=""), {0: {"cust_id_missing:CUST_ID"}}),
    "cust_id_duplicated": RuleCase(
        _cells(1, CUST_ID="R0001"),
        {0: {"cust_id_duplicated:CUST_ID"}, 1: {"cust_id_duplicated:CUST_ID"}},
    ),
    "not_a_number": RuleCase(_cells(0, BALANCE="abc"), {0: {"not_a_number:BALANCE"}}),
    "missing_value": RuleCase(_cells(0, BALANCE=""), {0: {"missing_value:BALANCE"}}),
    "not_finite": RuleCase(_cells(0, BALANCE="inf"), {0: {"not_finite:BALANCE"}}),
    "negative_value": RuleCase(_cells(0, BALANCE="-5.0"), {0: {"negative_value:BALANCE"}}),
    "frequency_out_of_range": RuleCase(
        _cells(0, BALANCE_FREQUENCY="2.5"), {0: {"frequency_out_of_range:BALANCE_FREQUENCY"}}
    ),
    "share_out_of_range": RuleCase(
        _cells(0, PRC_FULL_PAYMENT="1.5"), {0: {"share_out_of_range:PRC_FULL_PAYMENT"}}
    ),
    "count_not_whole": RuleCase(
        _cells(0, PURCHASES_TRX="8.5"), {0: {"count_not_whole:PURCHASES_TRX"}}
    ),
    "tenure_out_of_range": RuleCase(_cells(0, TENURE="13"), {0: {"tenure_out_of_range:TENURE"}}),
    "count_out_of_range": RuleCase(
        _cells(0, PURCHASES_TRX="1e20"), {0: {"count_out_of_range:PURCHASES_TRX"}}
    ),
    "credit_limit_not_positive": RuleCase(
        _cells(0, CREDIT_LIMIT="0"), {0: {"credit_limit_not_positive:CREDIT_LIMIT"}}
    ),
    # Soft: the row stays clean and the finding is counted once.
    "frequency_above_one": RuleCase(_cells(0, BALANCE_FREQUENCY="1.5")),
    "purchases_split_mismatch": RuleCase(_cells(0, PURCHASES="301.5")),
    "subfrequency_above_purchases_frequency": RuleCase(
        _cells(0, ONEOFF_PURCHASES_FREQUENCY="0.75")
    ),
    "balance_over_limit": RuleCase(_cells(0, BALANCE="3500.0")),
    "minimum_payment_above_payments": RuleCase(_cells(0, MINIMUM_PAYMENTS="600.0")),
    "purchases_without_transactions": RuleCase(_cells(0, PURCHASES_TRX="0")),
    "cash_advance_count_mismatch": RuleCase(_cells(1, CASH_ADVANCE_TRX="0")),
    "credit_limit_missing": RuleCase(_cells(0, CREDIT_LIMIT="")),
    "minimum_payments_missing": RuleCase(_cells(0, MINIMUM_PAYMENTS="")),
}


def _params(rules: tuple[str, ...]) -> list[object]:
    return [pytest.param(rule, marks=[], id=rule) for rule in rules]


def _validate(mutation: Mutation | None = None) -> IngestResult:
    rows = _base_rows() if mutation is None else mutation(_base_rows())
    table = RawTable(
        header=list(RAW_COLUMNS),
        rows=rows,
        line_numbers=[position + 2 for position in range(len(rows))],
        extra_columns=[],
        blank_lines_skipped=0,
    )
    return validate_table(table, source="in-memory", sha256="0" * 64)


def _reasons_by_position(result: IngestResult) -> dict[int, set[str]]:
    return {
        int(line) - 2: set(reasons.split("; "))
        for line, reasons in zip(
            result.quarantine["line"], result.quarantine["reasons"], strict=True
        )
    }


def _found(counts: dict[str, int]) -> dict[str, int]:
    return {rule: n for rule, n in counts.items() if n}


def test_every_rule_has_exactly_one_minimal_case() -> None:
    assert set(RULE_CASES) == set(RULES)


def test_rules_fall_into_two_disjoint_tiers() -> None:
    assert not set(HARD_RULES) & set(SOFT_RULES)
    assert set(HARD_RULES) | set(SOFT_RULES) == set(RULES)
    assert all(RULES[name].tier == "hard" for name in HARD_RULES)
    assert all(RULES[name].tier == "soft" for name in SOFT_RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_states_why_it_exists(rule: str) -> None:
    assert RULES[rule].name == rule
    assert len(RULES[rule].why.split()) >= 5


def test_schema_checks_are_named_after_rules() -> None:
    hard_checks = {check.name for column in HARD_SCHEMA.columns.values() for check in column.checks}
    assert hard_checks <= set(HARD_RULES)
    assert {check.name for check in SOFT_SCHEMA.checks} == set(SOFT_RULES)


def test_unmutated_rows_are_clean_without_any_finding() -> None:
    result = _validate()

    assert result.summary.rows_clean == 2
    assert _found(result.summary.hard_rule_counts) == {}
    assert _found(result.summary.soft_rule_counts) == {}


@pytest.mark.parametrize("rule", _params(HARD_RULES))
def test_hard_rule_case_quarantines_the_row_with_that_reason(rule: str) -> None:
    case = RULE_CASES.get(rule)
    assert case is not None, f"hard rule {rule!r} has no minimal failing case"
    assert case.quarantined, f"the case for hard rule {rule!r} must quarantine a row"

    result = _validate(case.mutate)

    assert _reasons_by_position(result) == case.quarantined
    assert _found(result.summary.hard_rule_counts) == {rule: len(case.quarantined)}
    assert result.summary.rows_clean == 2 - len(case.quarantined)
    assert _found(result.summary.soft_rule_counts) == {}


@pytest.mark.parametrize("rule", _params(SOFT_RULES))
def test_soft_rule_case_keeps_the_row_and_counts_the_finding(rule: str) -> None:
    case = RULE_CASES.get(rule)
    assert case is not None, f"soft rule {rule!r} has no minimal failing case"

    result = _validate(case.mutate)

    assert result.summary.rows_quarantined == 0
    assert result.summary.rows_clean == 2
    assert _found(result.summary.soft_rule_counts) == {rule: 1}
    assert _found(result.summary.hard_rule_counts) == {}


@dataclass(frozen=True)
class Boundary:
    """A value at (or just past) a rule's edge and what it must give."""

    mutate: Mutation
    quarantined: dict[int, set[str]] = field(default_factory=dict)
    soft_findings: dict[str, int] = field(default_factory=dict)


BOUNDARIES: dict[str, Boundary] = {
    "frequency_exactly_1_is_clean": Boundary(_cells(1, CASH_ADVANCE_FREQUENCY="1.0")),
    "frequency_exactly_2_is_kept_as_soft": Boundary(
        _cells(1, CASH_ADVANCE_FREQUENCY="2"), soft_findings={"frequency_above_one": 1}
    ),
    "frequency_just_above_2_is_hard": Boundary(
        _cells(1, CASH_ADVANCE_FREQUENCY="2.000001"),
        {1: {"frequency_out_of_range:CASH_ADVANCE_FREQUENCY"}},
    ),
    "tenure_1_is_clean": Boundary(_cells(0, TENURE="1")),
    "tenure_12_is_clean": Boundary(_cells(0, TENURE="12")),
    "tenure_written_12_0_is_clean": Boundary(_cells(0, TENURE="12.0")),
    "tenure_0_is_hard": Boundary(_cells(0, TENURE="0"), {0: {"tenure_out_of_range:TENURE"}}),
    "prc_exactly_1_is_clean": Boundary(_cells(0, PRC_FULL_PAYMENT="1.0")),
    "prc_just_above_1_is_hard": Boundary(
        _cells(0, PRC_FULL_PAYMENT="1.000001"), {0: {"share_out_of_range:PRC_FULL_PAYMENT"}}
    ),
    "split_gap_exactly_1_is_clean": Boundary(_cells(0, PURCHASES="301.0")),
    "split_gap_exactly_minus_1_is_clean": Boundary(_cells(0, PURCHASES="299.0")),
    "split_gap_just_above_1_is_soft": Boundary(
        _cells(0, PURCHASES="301.01"), soft_findings={"purchases_split_mismatch": 1}
    ),
    "balance_equal_to_limit_is_clean": Boundary(_cells(0, BALANCE="3000.0")),
    "minimum_equal_to_payments_is_clean": Boundary(_cells(0, MINIMUM_PAYMENTS="500.0")),
    "subfrequency_equal_to_purchases_frequency_is_clean": Boundary(
        _cells(0, ONEOFF_PURCHASES_FREQUENCY="0.5")
    ),
    "smallest_positive_credit_limit_is_kept": Boundary(
        _cells(0, CREDIT_LIMIT="0.01"), soft_findings={"balance_over_limit": 1}
    ),
    "zero_amount_is_clean": Boundary(_cells(1, BALANCE="0")),
    "negative_zero_is_clean": Boundary(_cells(0, CASH_ADVANCE="-0.0")),
}


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=[], id=name) for name, case in BOUNDARIES.items()],
)
def test_boundary_values_fall_on_the_documented_side(name: str) -> None:
    case = BOUNDARIES[name]

    result = _validate(case.mutate)

    assert _reasons_by_position(result) == case.quarantined
    assert _found(result.summary.soft_rule_counts) == case.soft_findings


def test_a_row_carries_every_rule_it_breaks() -> None:
    result = _validate(_cells(0, BALANCE="-5.0", TENURE="13", PRC_FULL_PAYMENT="7"))

    assert _reasons_by_position(result) == {
        0: {
            "negative_value:BALANCE",
            "tenure_out_of_range:TENURE",
            "share_out_of_range:PRC_FULL_PAYMENT",
        }
    }


def test_hard_counts_count_rows_not_cells() -> None:
    result = _validate(_cells(0, BALANCE="-5.0", PAYMENTS="-1.0"))

    assert _found(result.summary.hard_rule_counts) == {"negative_value": 1}


def test_negative_infinity_is_named_once_as_not_finite() -> None:
    result = _validate(_cells(0, BALANCE="-inf"))

    assert _reasons_by_position(result) == {0: {"not_finite:BALANCE"}}


def test_text_in_a_numeric_cell_is_named_once_as_not_a_number() -> None:
    result = _validate(_cells(0, TENURE="twelve"))

    assert _reasons_by_position(result) == {0: {"not_a_number:TENURE"}}
