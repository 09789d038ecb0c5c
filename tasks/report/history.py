"""Segment history: the last runs side by side, and who moved between consecutive champions.

`segment_history` gathers it from MLflow (`tasks/mlops/history.py`); `history_text` and
`history_json` are what `ccseg history` prints. A movement compares two consecutive champions'
own assignments, matched by CUST_ID where both runs saw the customer, so its matrix sums to the
customers the two runs share.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from tasks.mlops.history import History, RunRecord, load_assignments, read_history
from tasks.profiling.profiles import Migration, segment_migration

DEFAULT_LAST = 10
MISSING = "-"


@dataclass(frozen=True)
class Movement:
    """Customers' segments from one champion to the next (None: a run kept no assignments)."""

    previous: RunRecord
    current: RunRecord
    migration: Migration | None

    def to_dict(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "from_run_id": self.previous.run_id,
            "to_run_id": self.current.run_id,
            "from_version": self.previous.version,
            "to_version": self.current.version,
        }
        if self.migration is None:
            return entry | {"matrix": None, "unavailable": "a run's assignments were not kept"}
        crosstab = self.migration.crosstab
        return entry | {
            "customers_in_both": self.migration.matched,
            "kept_segment": self.migration.stayed,
            "only_in_previous": self.migration.only_previous,
            "only_in_current": self.migration.only_current,
            "matrix": {
                str(before): {str(after): int(n) for after, n in row.items()}
                for before, row in crosstab.iterrows()
            },
        }


@dataclass(frozen=True)
class SegmentHistory:
    """The runs to show (oldest first) and the champion-to-champion movements among them."""

    history: History
    runs: list[RunRecord]
    movements: list[Movement]


def champion_movements(
    records: list[RunRecord],
    shown: list[RunRecord],
    assignments: Callable[[str], pd.Series | None],
) -> list[Movement]:
    """Movements into each champion in `shown`, from the champion before it in `records`."""
    champions = [r for r in records if r.is_champion]
    shown_ids = {r.run_id for r in shown}
    movements = []
    for previous, current in itertools.pairwise(champions):
        if current.run_id not in shown_ids:
            continue
        before, after = assignments(previous.run_id), assignments(current.run_id)
        migration = None if before is None or after is None else segment_migration(before, after)
        movements.append(Movement(previous, current, migration))
    return movements


def segment_history(tracking_uri: str, experiment_name: str, last: int) -> SegmentHistory:
    """The last `last` parent runs and the movements into the champions among them."""
    history = read_history(tracking_uri, experiment_name)
    shown = history.last(last)
    movements = champion_movements(
        history.records, shown, lambda run_id: load_assignments(tracking_uri, run_id)
    )
    return SegmentHistory(history, shown, movements)


def _outcome(record: RunRecord) -> str:
    if record.outcome is None:
        return record.status.lower() if record.status != "FINISHED" else "no decision"
    version = record.version or record.champion_version
    return f"{record.outcome} v{version}" if version else record.outcome


def _number(value: float | None, pattern: str) -> str:
    return MISSING if value is None else pattern.format(value)


def runs_table(runs: list[RunRecord]) -> pd.DataFrame:
    """One row per run, numbered from 1 (oldest shown), as the terminal shows it."""
    return pd.DataFrame(
        [
            {
                "#": i,
                "started (UTC)": r.started.replace("T", " ").removesuffix("+00:00")[:16],
                "data (digest)": f"{r.data_name or MISSING} ({(r.digest or MISSING)[:12]})",
                "rows in/clean": (
                    f"{r.rows_in:,}/{r.rows_clean:,}"
                    if r.rows_in is not None and r.rows_clean is not None
                    else MISSING
                ),
                "model": f"{r.algorithm} on {r.feature_set}" if r.algorithm else MISSING,
                "k": MISSING if r.k is None else str(r.k),
                "silhouette": _number(r.silhouette, "{:.3f}"),
                "stability": _number(r.stability, "{:.3f}"),
                "promotion": _outcome(r),
            }
            for i, r in enumerate(runs, start=1)
        ]
    )


def shares_table(runs: list[RunRecord]) -> pd.DataFrame:
    """Segment names (rows, in order of first appearance) by run number: % of its customers."""
    names: list[str] = []
    for record in runs:
        names.extend(name for name in record.shares if name not in names)
    return pd.DataFrame(
        {
            f"#{i}": [
                f"{100 * r.shares[name]:.1f}%" if name in r.shares else MISSING for name in names
            ]
            for i, r in enumerate(runs, start=1)
        },
        index=pd.Index(names, name="segment"),
    )


def _movement_text(movement: Movement, numbers: dict[str, int]) -> list[str]:
    previous, current = movement.previous, movement.current

    def label(record: RunRecord) -> str:
        where = f"run #{numbers[record.run_id]}" if record.run_id in numbers else "an earlier run"
        return f"champion v{record.version} ({where}, {record.started[:16].replace('T', ' ')})"

    head = f"Who moved, {label(previous)} -> {label(current)}:"
    migration = movement.migration
    if migration is None:
        return [head, "  not known: a run's assignments were not kept (logged before history)."]
    lines = [
        head,
        f"  {migration.matched:,} customers in both runs (matched by CUST_ID); "
        f"{migration.stayed:,} kept their segment name; {migration.only_previous:,} only in "
        f"the earlier run, {migration.only_current:,} only in the later one.",
    ]
    if migration.matched:
        crosstab = migration.crosstab.rename_axis(index="from \\ to", columns=None)
        lines.extend("  " + line for line in crosstab.to_string().splitlines())
    return lines


def history_text(view: SegmentHistory) -> str:
    """The runs table, the shares table and the movements, for a terminal."""
    history = view.history
    where = f"experiment '{history.experiment_name}' at {history.tracking_uri}"
    if not view.runs:
        return f"No segmentation runs yet in {where}: `ccseg run` records the first one."
    lines = [f"Last {len(view.runs)} of {len(history.records)} run(s) in {where}:", ""]
    lines += runs_table(view.runs).to_string(index=False).splitlines()
    shares = shares_table(view.runs)
    if len(shares):
        lines += ["", "Segment shares (% of each run's clean customers):"]
        lines += shares.to_string().splitlines()
    numbers = {r.run_id: i for i, r in enumerate(view.runs, start=1)}
    champions = sum(r.is_champion for r in history.records)
    lines.append("")
    if not view.movements:
        lines.append(
            f"No movement to show: {champions} champion(s) in the store; who moved needs two "
            "consecutive champions, the later one among the runs shown."
        )
    for movement in view.movements:
        lines += [*_movement_text(movement, numbers), ""]
    return "\n".join(lines).rstrip()


def history_json(view: SegmentHistory) -> str:
    """The same history for automation: runs oldest first, then the movements."""
    return json.dumps(
        {
            "experiment": view.history.experiment_name,
            "tracking_uri": view.history.tracking_uri,
            "runs_in_store": len(view.history.records),
            "runs": [r.to_dict() for r in view.runs],
            "movements": [m.to_dict() for m in view.movements],
        },
        indent=2,
        ensure_ascii=False,
    )
