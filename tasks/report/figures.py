"""Report figures as PNG bytes, identical on every render: MLflow and the HTML get one file.

Figures are built on `matplotlib.figure.Figure` (no pyplot state), which is thread-safe under
Prefect's thread pool and always renders with Agg.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from tasks.profiling.naming import NOISE_SEGMENT, SegmentName
from tasks.profiling.profiles import SegmentProfiles
from tasks.profiling.traits import format_value
from tasks.report.figure_style import PALETTE, new_figure, png_bytes, segment_colours
from tasks.report.split_figure import split_figure

MAX_SCATTER_POINTS = 4000
Z_CLIP = 2.0  # z beyond +-2 is "far from average" either way; clipping keeps colours readable
# png_bytes and segment_colours are re-exported: the notebook and the tests import them from here.


def pretty(column: str) -> str:
    return column.replace("_", " ")


def segment_sizes_figure(profiles: SegmentProfiles, names: dict[int, SegmentName]) -> bytes:
    sizes = profiles.sizes.sort_values("n")
    colours = segment_colours(profiles.segments)
    fig = new_figure(8, 0.55 * len(sizes) + 1.4)
    ax = fig.add_subplot()
    labels = [names[int(s)].name for s in sizes.index]
    ax.barh(labels, sizes["n"], color=[colours[int(s)] for s in sizes.index])
    for y, (n, share) in enumerate(zip(sizes["n"], sizes["share"], strict=True)):
        ax.text(n, y, f"  {n:,} ({share:.0%})", va="center", fontsize=9)
    ax.set_xlim(0, sizes["n"].max() * 1.25)
    ax.set_xlabel("customers")
    ax.set_title(f"Segment sizes ({profiles.n_customers:,} customers)")
    ax.spines[["top", "right"]].set_visible(False)
    return png_bytes(fig)


def zscore_heatmap_figure(profiles: SegmentProfiles, names: dict[int, SegmentName]) -> bytes:
    """Features down, segments (largest first) across: stays readable with many features."""
    largest_first = profiles.sizes.sort_values("n", ascending=False, kind="stable").index
    z = profiles.feature_zscores.loc[largest_first].T
    fig = new_figure(1.35 * z.shape[1] + 4.5, 0.34 * z.shape[0] + 2.4)
    ax = fig.add_subplot()
    image = ax.imshow(
        z.clip(-Z_CLIP, Z_CLIP).to_numpy(),
        cmap="RdBu_r",
        norm=TwoSlopeNorm(0.0, -Z_CLIP, Z_CLIP),
        aspect="auto",
    )
    for (row, col), value in np.ndenumerate(z.to_numpy()):
        colour = "white" if abs(value) > 0.6 * Z_CLIP else "black"
        ax.text(col, row, f"{value:+.1f}", ha="center", va="center", fontsize=8, color=colour)
    segment_labels = [textwrap.fill(names[int(s)].name, 16) for s in z.columns]
    ax.set_xticks(range(z.shape[1]), segment_labels, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(z.shape[0]), [pretty(c) for c in z.index], fontsize=8)
    ax.set_title("How each segment differs from the average customer", pad=12)
    bar = fig.colorbar(image, ax=ax, shrink=0.6)
    bar.set_label("segment mean, in population standard deviations")
    return png_bytes(fig)


def _sample(n: int) -> np.ndarray:
    if n <= MAX_SCATTER_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, MAX_SCATTER_POINTS, replace=False))


def projection_figure(
    embedding: np.ndarray,
    labels: pd.Series,
    names: dict[int, SegmentName],
    method: str,
    population: int | None = None,
) -> bytes:
    """The customers of `embedding` (with their `labels`), out of `population` (default: all)."""
    points = np.asarray(embedding, dtype=float)
    codes = np.asarray(labels, dtype=np.int64)
    population = len(codes) if population is None else population
    keep = _sample(len(codes))
    colours = segment_colours(sorted(set(codes.tolist())))
    fig = new_figure(8, 6)
    ax = fig.add_subplot()
    for segment in sorted(colours):
        mask = codes[keep] == segment
        ax.scatter(
            points[keep][mask, 0],
            points[keep][mask, 1],
            s=6,
            alpha=0.55,
            color=colours[segment],
            label=names[segment].name,
            rasterized=True,
        )
    shown = (
        f"{len(keep):,} of {population:,} customers"
        if len(keep) < population
        else (f"all {population:,} customers")
    )
    ax.set_title(f"Customers in two dimensions, coloured by segment\n{method}; {shown}")
    ax.set_xlabel(f"{method} axis 1")
    ax.set_ylabel(f"{method} axis 2")
    ax.legend(markerscale=3, fontsize=8, loc="best", framealpha=0.9)
    return png_bytes(fig)


_METRIC_PANELS = (
    ("silhouette", "Silhouette (higher is better)"),
    ("davies_bouldin", "Davies-Bouldin (lower is better)"),
    ("stability_ari", "Stability: bootstrap ARI (higher is better)"),
    ("reference_silhouette", "Silhouette in the common reference space (higher is better)"),
)


def series_styles(series: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(colour, line style, marker) per series, used for both the lines and the legend.

    Past the palette's length colours repeat, so each round of colours gets its own line style
    and marker (distinct for up to 40 series).
    """
    rounds = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))
    return {
        key: (PALETTE[i % len(PALETTE)], *rounds[(i // len(PALETTE)) % len(rounds)])
        for i, key in enumerate(series)
    }


def metrics_vs_k_figure(grid: pd.DataFrame, chosen_cell_id: str) -> bytes:
    """One line per algorithm x feature set (mean over seeds); the chosen cell is a red star."""
    chosen = grid.loc[grid["cell_id"] == chosen_cell_id]
    fig = new_figure(12, 8.5)
    axes = fig.subplots(2, 2).ravel()
    series = sorted(grid.groupby(["algorithm", "feature_set"]).groups)
    styles = series_styles(series)
    for ax, (metric, title) in zip(axes, _METRIC_PANELS, strict=True):
        if metric not in grid:  # a grid logged before the metric existed
            ax.set_axis_off()
            continue
        for key in series:
            cells = grid[(grid["algorithm"] == key[0]) & (grid["feature_set"] == key[1])]
            x = cells["k"].where(cells["k"].notna(), cells["n_segments"])
            means = cells.assign(x=x).groupby("x")[metric].mean().dropna()
            if means.empty:
                continue
            colour, line, marker = styles[key]
            ax.plot(means.index, means, ls=line, marker=marker, color=colour, ms=4, lw=1.4)
        if not chosen.empty and pd.notna(chosen[metric].iloc[0]):
            row = chosen.iloc[0]
            x = row["k"] if pd.notna(row["k"]) else row["n_segments"]
            ax.plot([x], [row[metric]], "*", color="red", ms=16, mec="black", zorder=5)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("number of segments k")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=colour, ls=line, marker=marker, label=f"{key[0]} on {key[1]}")
        for key, (colour, line, marker) in styles.items()
    ]
    handles.append(Line2D([], [], color="red", marker="*", ls="", ms=12, label="chosen model"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)), fontsize=8)
    fig.suptitle(
        "Model quality against the number of segments (mean over seeds); only the reference-space "
        "silhouette compares feature sets fairly"
    )
    return png_bytes(fig)


def segment_profile_figure(
    profiles: SegmentProfiles, names: dict[int, SegmentName], segment: int
) -> bytes:
    """Bars of the segment's z-scores, same feature order for every segment, with medians."""
    z = profiles.feature_zscores.loc[segment]
    shown = profile_labels(profiles, segment)
    colour = segment_colours(profiles.segments)[segment]
    fig = new_figure(8.5, 0.36 * len(z) + 1.6)
    ax = fig.add_subplot()
    y = np.arange(len(z))[::-1]
    limit = float(min(3.0, max(1.0, np.ceil(z.abs().max() * 2) / 2)))
    bar_colours = np.where(z.to_numpy() >= 0, colour, "#b0b0b0")
    ax.barh(y, z.clip(-limit, limit).to_numpy(), color=bar_colours)
    labels = [
        f"{pretty(c)}  ({shown[c][0]} vs {shown[c][1]}{', means' if shown[c][2] else ''})"
        for c in profiles.feature_zscores.columns
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-0.6, len(z) - 0.4)
    ax.set_xlabel("segment mean vs all customers, in standard deviations (z-score)")
    ax.set_title(
        f"{names[segment].name}\nz-score per feature; in brackets: segment vs all customers "
        "(median; mean for zero-heavy features)",
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    return png_bytes(fig)


def profile_labels(profiles: SegmentProfiles, segment: int) -> dict[str, tuple[str, str, bool]]:
    """Per feature: (segment value, all customers' value, is a mean), written as everywhere else."""
    return {
        c: (
            format_value(c, float(profiles.feature_values.at[segment, c])),
            format_value(c, float(profiles.population_feature_values[c])),
            profiles.feature_statistic[c] == "mean",
        )
        for c in profiles.feature_zscores.columns
    }


def silhouette_figure(
    samples: np.ndarray, labels: pd.Series, names: dict[int, SegmentName]
) -> bytes:
    """The classic silhouette diagram: each customer's silhouette, grouped and sorted by segment."""
    values = np.asarray(samples, dtype=float)
    codes = np.asarray(labels, dtype=np.int64)
    colours = segment_colours(sorted(set(codes.tolist())))
    fig = new_figure(8, 6)
    ax = fig.add_subplot()
    bottom = 0
    gap = max(10, len(codes) // 100)
    centres: list[float] = []
    labels_shown: list[str] = []
    for segment in sorted(s for s in colours if s != NOISE_SEGMENT):
        ordered = np.sort(values[(codes == segment) & ~np.isnan(values)])  # NaN: not sampled
        top = bottom + len(ordered)
        ax.fill_betweenx(np.arange(bottom, top), 0, ordered, color=colours[segment], lw=0)
        centres.append((bottom + top) / 2)
        labels_shown.append(names[segment].name)
        bottom = top + gap
    mean = float(np.nanmean(values[codes != NOISE_SEGMENT]))
    ax.axvline(mean, color="red", ls="--", label=f"mean silhouette, all customers: {mean:.2f}")
    ax.set_yticks(centres, labels_shown, fontsize=9)
    ax.set_xlabel("silhouette (1: well inside its segment, 0: on a border, <0: closer to another)")
    ax.set_title("Silhouette of the chosen model, per customer")
    ax.axvline(0, color="black", lw=0.8)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return png_bytes(fig)


def profile_figure_key(segment: int) -> str:
    return "profile_noise" if segment == NOISE_SEGMENT else f"profile_segment_{segment}"


def render_figures(
    profiles: SegmentProfiles,
    names: dict[int, SegmentName],
    labels: pd.Series,
    grid: pd.DataFrame,
    chosen_cell_id: str,
    embedding: np.ndarray,
    embedding_method: str,
    silhouette_samples: np.ndarray | None,
    splits: list[tuple[str, np.ndarray, dict[int, str]]] | None = None,
    embedding_positions: np.ndarray | None = None,
) -> dict[str, bytes]:
    """Every figure of the report, name -> PNG bytes (the same bytes MLflow gets).

    `embedding` holds the customers at `embedding_positions` (a sample), or every customer.
    """
    embedded = labels if embedding_positions is None else labels.iloc[embedding_positions]
    figures = {
        "segment_sizes": segment_sizes_figure(profiles, names),
        "zscore_heatmap": zscore_heatmap_figure(profiles, names),
        "projection_2d": projection_figure(
            embedding, embedded, names, embedding_method, population=len(labels)
        ),
        "metrics_vs_k": metrics_vs_k_figure(grid, chosen_cell_id),
    }
    if silhouette_samples is not None:
        figures["silhouette"] = silhouette_figure(silhouette_samples, labels, names)
    if splits is not None and len(splits) > 1:
        figures["splits"] = split_figure(splits)
    for segment in profiles.segments:
        figures[profile_figure_key(segment)] = segment_profile_figure(profiles, names, segment)
    return figures
