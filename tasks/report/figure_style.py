"""Shared look of the report's figures: size, palette, segment colours, deterministic PNG bytes.

Figures are built on `matplotlib.figure.Figure` (no pyplot state), which is thread-safe under
Prefect's thread pool and always renders with Agg.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

from tasks.profiling.naming import NOISE_SEGMENT

DPI = 100
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79",
)  # fmt: skip
_NOISE_COLOUR = "#9e9e9e"


def png_bytes(fig: Figure) -> bytes:
    """PNG with a fixed dpi and no software/date metadata: same input, same bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def segment_colours(segments: list[int]) -> dict[int, str]:
    """One colour per segment id, stable for a given set of ids; noise is grey."""
    ordered = sorted(s for s in segments if s != NOISE_SEGMENT)
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(ordered)}
    if NOISE_SEGMENT in segments:
        colours[NOISE_SEGMENT] = _NOISE_COLOUR
    return colours


def new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")
