"""The alluvial figure: how the chosen segments split when the model is refitted at the next ks."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from tasks.report.figure_style import new_figure, png_bytes, segment_colours


def split_figure(columns: list[tuple[str, np.ndarray, dict[int, str]]], title: str = "") -> bytes:
    """An alluvial diagram: customers flowing from the segments at one k to those at the next.

    `columns` are (heading, labels per customer, {segment: label}) in order of k.
    """
    fig = new_figure(12, 6.5)
    ax = fig.add_subplot()
    n = len(columns[0][1])
    gap = 0.02 * n
    width = 0.12
    spans: list[dict[int, tuple[float, float]]] = []
    for x, (heading, labels, names) in enumerate(columns):
        counts = pd.Series(labels).value_counts().sort_index()
        bottom, placed = 0.0, {}
        colours = segment_colours([int(s) for s in counts.index])
        for segment, count in counts.items():
            placed[int(segment)] = (bottom, bottom + count)
            ax.add_patch(
                Rectangle((x - width / 2, bottom), width, count, color=colours[int(segment)])
            )
            text = textwrap.fill(names.get(int(segment), str(segment)), 24)
            ax.text(
                x + (width / 2 + 0.02 if x == len(columns) - 1 else -width / 2 - 0.02),
                bottom + count / 2,
                f"{text}\n{count:,}",
                ha="left" if x == len(columns) - 1 else "right",
                va="center",
                fontsize=7.5,
            )
            bottom += count + gap
        spans.append(placed)
        ax.text(x, -0.04 * n, heading, ha="center", va="top", fontsize=10, weight="bold")
    t = np.linspace(0, 1, 40)
    ease = 3 * t**2 - 2 * t**3
    for x in range(len(columns) - 1):
        flows = pd.crosstab(columns[x][1], columns[x + 1][1])
        left_used = {s: spans[x][s][0] for s in spans[x]}
        right_used = {s: spans[x + 1][s][0] for s in spans[x + 1]}
        colours = segment_colours(list(spans[x]))
        for source in flows.index:
            for target in flows.columns:
                count = int(flows.at[source, target])
                if count == 0:
                    continue
                y0, y1 = left_used[int(source)], right_used[int(target)]
                xs = x + width / 2 + (1 - width) * t
                lower = y0 + (y1 - y0) * ease
                ax.fill_between(
                    xs, lower, lower + count, color=colours[int(source)], alpha=0.35, lw=0
                )
                left_used[int(source)] += count
                right_used[int(target)] += count
    ax.set_xlim(-0.9, len(columns) - 0.1)
    ax.set_ylim(-0.1 * n, (1 + 0.02 * 12) * n)
    ax.invert_yaxis()
    ax.axis("off")
    ax.set_title(title or "How the segments split as k grows", fontsize=11)
    return png_bytes(fig)
