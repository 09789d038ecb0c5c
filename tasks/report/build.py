"""The segment analysis report: one self-contained HTML file built from the flow's outputs.

`build_report` is pure (data in, HTML and PNG bytes out); `write_report` is the only I/O. The
HTML embeds every figure as base64 and its CSS inline, so it opens offline and fetches nothing.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from sklearn.decomposition import PCA

from schemas.columns import CUST_ID
from tasks.profiling.naming import NOISE_SEGMENT, SegmentName, name_segments
from tasks.profiling.profiles import (
    Migration,
    SegmentProfiles,
    profile_segments,
    segment_migration,
)
from tasks.profiling.surrogate import SurrogateExplanation, explain_segments
from tasks.profiling.traits import behaviour_traits
from tasks.report.analysis import ANALYSIS_FILE, analysis_json
from tasks.report.context import report_context
from tasks.report.data_look import DataLook, look_at_data
from tasks.report.figures import render_figures
from tasks.report.recommendations import Recommendation, recommend

REPORT_FILE = "segmentation_report.html"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report needs, as plain data from the segmentation flow.

    The 2-D view is a PCA of `model_space`, the chosen model's own feature matrix.
    """

    clean: pd.DataFrame
    features: pd.DataFrame
    labels: pd.Series
    validation: dict
    grid: pd.DataFrame
    chosen_cell_id: str
    selection_reasoning: str
    feature_set_descriptions: dict[str, str]
    algorithm_descriptions: dict[str, str]
    feature_notes: list[str]
    model_space: np.ndarray
    silhouette_samples: np.ndarray | None = None
    previous_labels: pd.Series | None = None
    run_meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """The HTML, the figures embedded in it (same bytes as logged), and what it was built from."""

    html: str
    figures: dict[str, bytes]
    profiles: SegmentProfiles
    names: dict[int, SegmentName]
    explanation: SurrogateExplanation
    recommendations: dict[int, Recommendation]
    data_look: DataLook
    migration: Migration | None
    assignments: pd.DataFrame  # CUST_ID, segment, segment_name: next run's `previous_labels`
    limitations: list[str]


def _check_inputs(inputs: ReportInputs) -> None:
    n = len(inputs.labels)
    if inputs.chosen_cell_id not in set(inputs.grid["cell_id"].astype(str)):
        raise ValueError(f"chosen cell {inputs.chosen_cell_id!r} is not a row of the grid")
    for name in ("silhouette_samples", "model_space"):
        value = getattr(inputs, name)
        if value is not None and len(value) != n:
            raise ValueError(f"{name} has {len(value)} rows, labels have {n}")


def projection(inputs: ReportInputs) -> tuple[np.ndarray, str]:
    """The 2-D points for the projection figure and the name of the method that made them."""
    space = np.asarray(inputs.model_space, dtype=float)
    return PCA(n_components=2, random_state=0).fit_transform(space), "PCA of model space"


def assignment_table(
    clean: pd.DataFrame, labels: pd.Series, names: dict[int, SegmentName]
) -> pd.DataFrame:
    """CUST_ID, segment id and segment name per customer: what the next run migrates from."""
    codes = np.asarray(labels, dtype=np.int64)
    return pd.DataFrame(
        {
            CUST_ID: clean[CUST_ID].astype(str).to_numpy(),
            "segment": codes,
            "segment_name": [names[int(c)].name for c in codes],
        }
    )


def _render(context: dict) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    markdown = MarkdownIt("commonmark", {"html": False})  # raw HTML in the text stays text
    env.filters["markdown"] = lambda text: Markup(markdown.render(text or ""))
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    return env.get_template("report.html.j2").render(**context)


def build_report(inputs: ReportInputs) -> Report:
    """Profile, name, explain and advise on the segments, draw the figures, render the HTML."""
    _check_inputs(inputs)
    labels = pd.Series(np.asarray(inputs.labels, dtype=np.int64))
    profiles = profile_segments(inputs.clean, inputs.features, labels)
    names = name_segments(behaviour_traits(inputs.clean.reset_index(drop=True)), labels)
    explanation = explain_segments(inputs.features, labels)
    recommendations = recommend(profiles, names)
    data_look = look_at_data(inputs.clean, inputs.feature_notes)
    assignments = assignment_table(inputs.clean, labels, names)
    migration = None
    if inputs.previous_labels is not None:
        current = assignments.set_index(CUST_ID)["segment_name"]
        migration = segment_migration(inputs.previous_labels, current)
    embedding, method = projection(inputs)
    figures = render_figures(
        profiles,
        names,
        labels,
        inputs.grid,
        inputs.chosen_cell_id,
        embedding,
        method,
        inputs.silhouette_samples,
    )
    context = report_context(
        inputs, profiles, names, explanation, recommendations, data_look, migration, figures
    )
    return Report(
        html=_render(context),
        figures=figures,
        profiles=profiles,
        names=names,
        explanation=explanation,
        recommendations=recommendations,
        data_look=data_look,
        migration=migration,
        assignments=assignments,
        limitations=context["limitations"],
    )


def write_report(report: Report, out_dir: Path) -> Path:
    """Write the HTML, each figure as a PNG and the analysis as JSON; returns the HTML's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures_dir = out_dir / "figures"
    figures_dir.mkdir(exist_ok=True)
    for name, data in report.figures.items():
        (figures_dir / f"{name}.png").write_bytes(data)
    (out_dir / ANALYSIS_FILE).write_text(analysis_json(report), encoding="utf-8")
    target = out_dir / REPORT_FILE
    staged = target.with_name(f".{target.name}.tmp")
    staged.write_text(report.html, encoding="utf-8")
    staged.replace(target)  # a reader never sees a half-written report
    return target


def summary_markdown(report: Report) -> str:
    """The executive summary as a markdown table, for a Prefect artifact or an MLflow note."""
    profiles = report.profiles
    lines = [
        f"**{profiles.n_customers:,} customers, "
        f"{sum(segment != NOISE_SEGMENT for segment in report.names)} segments.** "
        f"Rules reproduce {report.explanation.fidelity:.0%} of the assignments.",
        "",
        "| Segment | Customers | Share of balances | Share of purchases | What to do next |",
        "|---|---:|---:|---:|---|",
    ]
    for segment in profiles.sizes.sort_values("n", ascending=False, kind="stable").index:
        advice = report.recommendations[int(segment)]
        totals = profiles.totals.loc[segment]
        lines.append(
            f"| {advice.name} | {int(profiles.sizes.at[segment, 'n']):,} "
            f"({profiles.sizes.at[segment, 'share']:.0%}) | {totals['share_of_balance']:.0%} | "
            f"{totals['share_of_purchases']:.0%} | {advice.headline} |"
        )
    return "\n".join(lines)
