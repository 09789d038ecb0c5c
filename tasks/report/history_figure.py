"""The segment shares across runs as one figure: a stacked bar per run, one colour per name.

Logged on each parent run (`history/segment_shares.png`) and shown in the report's "since the
last run" section. A name keeps its colour across runs, so a segment that grows or appears is
visible at a glance; runs that recorded no shares (failed ones) are left out.
"""

from __future__ import annotations

from tasks.mlops.history import RunRecord
from tasks.report.figure_style import PALETTE, new_figure, png_bytes

HISTORY_FIGURE = "segment_shares_history"
FIGURE_ARTIFACT_DIR = "history"


def shares_figure(runs: list[RunRecord]) -> bytes | None:
    """Stacked shares per run (oldest left), or None when no run recorded shares."""
    runs = [r for r in runs if r.shares]
    if not runs:
        return None
    names: list[str] = []
    for record in runs:
        names.extend(name for name in record.shares if name not in names)
    fig = new_figure(max(5.0, 1.1 * len(runs) + 3.5), 4.2)
    ax = fig.add_subplot()
    labels = [
        f"#{i} {r.started[5:16].replace('T', ' ')}\n{_outcome(r)}"
        for i, r in enumerate(runs, start=1)
    ]
    bottoms = [0.0] * len(runs)
    for i, name in enumerate(names):
        heights = [100 * r.shares.get(name, 0.0) for r in runs]
        bars = ax.bar(labels, heights, bottom=bottoms, label=name, color=PALETTE[i % len(PALETTE)])
        ax.bar_label(
            bars,
            labels=[f"{h:.0f}%" if h >= 5 else "" for h in heights],
            label_type="center",
            fontsize="small",
            color="white",
        )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_ylabel("% of the run's customers")
    ax.set_ylim(0, 100)
    ax.set_title("Segment shares across runs (start time UTC, outcome)", fontsize="medium")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    ax.tick_params(axis="x", labelsize="small")
    return png_bytes(fig)


def _outcome(record: RunRecord) -> str:
    version = record.version or record.champion_version
    return f"{record.outcome} v{version}" if version else (record.outcome or "")
