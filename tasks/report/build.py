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

from core.settings import EconomicsSettings
from schemas.columns import CUST_ID
from tasks.profiling.naming import NOISE_SEGMENT, SegmentName
from tasks.profiling.profiles import (
    Migration,
    SegmentProfiles,
    positional,
    profile_segments,
    segment_migration,
)
from tasks.profiling.segment_description import names_from_traits, profiles_every_row
from tasks.profiling.surrogate import SurrogateExplanation, explain_segments
from tasks.profiling.traits import behaviour_traits
from tasks.report.actions import Action, plan_actions
from tasks.report.analysis import ANALYSIS_FILE, analysis_json
from tasks.report.baseline import Baseline, compare_with_rule, segment_and_repayment
from tasks.report.context import report_context
from tasks.report.data_look import DataLook, look_at_data
from tasks.report.economics import Economics, segment_economics, summarise
from tasks.report.figures import render_figures
from tasks.report.history_figure import HISTORY_FIGURE
from tasks.report.recommendations import Recommendation, recommend
from tasks.report.since_last_run import SinceLastRun
from tasks.segmentation.nesting import new_segment
from tasks.segmentation.reference import reference_space
from tasks.segmentation.robustness import VariantResult

REPORT_FILE = "segmentation_report.html"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report needs, as plain data from the segmentation flow.

    The 2-D view is a PCA of `model_space`, the chosen model's own feature matrix.
    `model_space` and `reference_space` hold the rows at `space_positions` (a seeded sample of a
    large portfolio), or every row when it is None.
    `names` and `profiles`, when given (computed before promotion), are used as they are.
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
    reference_space: np.ndarray | None = None
    finalists: pd.DataFrame | None = None  # Selection.finalists
    segment_jaccard: dict[int, float] | None = None  # the chosen finalist's, per segment
    robustness: list[VariantResult] | None = None
    splits: dict[int, np.ndarray] | None = None  # k -> labels: the chosen k and the next ones
    economics: EconomicsSettings = field(default_factory=EconomicsSettings)
    names: dict[int, SegmentName] | None = None
    profiles: SegmentProfiles | None = None
    silhouette_sample_size: int = 5_000
    since_last_run: SinceLastRun | None = None  # this run among the last ones (from MLflow)
    space_positions: np.ndarray | None = None  # rows of the two spaces; None: every row


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
    economics: Economics
    repayment_economics: pd.DataFrame  # by (segment, repayment group)
    baseline: Baseline
    actions: dict[int, Action]
    quantities: dict[str, str]  # quantity id -> the one text the report shows for it
    context: dict = field(repr=False, default_factory=dict)


def _check_inputs(inputs: ReportInputs) -> None:
    n = len(inputs.labels)
    if inputs.chosen_cell_id not in set(inputs.grid["cell_id"].astype(str)):
        raise ValueError(f"chosen cell {inputs.chosen_cell_id!r} is not a row of the grid")
    if inputs.silhouette_samples is not None and len(inputs.silhouette_samples) != n:
        raise ValueError(
            f"silhouette_samples has {len(inputs.silhouette_samples)} rows, labels {n}"
        )
    rows = n if inputs.space_positions is None else len(inputs.space_positions)
    for name in ("model_space", "reference_space"):
        value = getattr(inputs, name)
        if value is not None and len(value) != rows:
            raise ValueError(f"{name} has {len(value)} rows, its positions {rows}")


def projection(inputs: ReportInputs) -> tuple[np.ndarray, str]:
    """The 2-D points for the projection figure and the name of the method that made them."""
    space = np.asarray(inputs.model_space, dtype=float)
    return PCA(n_components=2, random_state=0).fit_transform(space), "PCA of model space"


def assignment_table(
    clean: pd.DataFrame, labels: pd.Series, names: dict[int, SegmentName]
) -> pd.DataFrame:
    """CUST_ID, segment id and segment name per customer: what the next run migrates from."""
    codes = np.asarray(labels, dtype=np.int64)
    segments, positions = np.unique(codes, return_inverse=True)  # a name per segment, not per row
    by_segment = np.array([names[int(s)].name for s in segments], dtype=object)
    return pd.DataFrame(
        {
            CUST_ID: clean[CUST_ID].astype(str).to_numpy(),
            "segment": codes,
            "segment_name": by_segment[positions.reshape(-1)],
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


def _split_columns(
    inputs: ReportInputs, labels: pd.Series, names: dict[int, SegmentName]
) -> list[tuple[str, np.ndarray, dict[int, str]]] | None:
    """Heading, labels and segment names per k, for the split figure (names by the same rules)."""
    if not inputs.splits or len(inputs.splits) < 2:
        return None
    # Every row's traits once for all k on a frame profiled whole; a large one samples per k.
    traits = (
        behaviour_traits(positional(inputs.clean))
        if profiles_every_row(len(inputs.clean))
        else None
    )
    columns = []
    for position, (k, found) in enumerate(sorted(inputs.splits.items())):
        if position == 0:
            found, named = labels.to_numpy(), {s: n.name for s, n in names.items()}
        else:
            found_names = names_from_traits(inputs.clean, found, traits)
            named = {s: n.name for s, n in found_names.items()}
        columns.append((f"k = {k}" + (" (chosen)" if position == 0 else ""), found, named))
    return columns


def split_sentence(columns: list[tuple[str, np.ndarray, dict[int, str]]] | None) -> str:
    """What one more segment would be: its name, size and where its customers come from."""
    if not columns or len(columns) < 2:
        return ""
    (_, coarse, coarse_names), (heading, fine, fine_names) = columns[0], columns[1]
    newest, sources = new_segment(coarse, fine)
    size = int((fine == newest).sum())
    main = [f"{coarse_names.get(s, s)} ({n:,})" for s, n in list(sources.items())[:2]]
    return (
        f"At {heading} the segment that is new is {fine_names.get(newest, newest)} "
        f"({size:,} customers), drawn mostly from {' and '.join(main)}."
    )


def build_report(inputs: ReportInputs) -> Report:
    """Profile, name, price, explain and advise on the segments; draw; render the HTML."""
    _check_inputs(inputs)
    labels = pd.Series(np.asarray(inputs.labels, dtype=np.int64))
    profiles = inputs.profiles or profile_segments(inputs.clean, inputs.features, labels)
    names = inputs.names or names_from_traits(inputs.clean, labels.to_numpy())
    explanation = explain_segments(inputs.features, labels)
    recommendations = recommend(profiles, names)
    data_look = look_at_data(inputs.clean, inputs.feature_notes)
    assignments = assignment_table(inputs.clean, labels, names)
    economics = segment_economics(inputs.clean, labels.to_numpy(), inputs.economics)
    chosen = inputs.grid.loc[inputs.grid["cell_id"].astype(str) == inputs.chosen_cell_id].iloc[0]
    reference = inputs.reference_space
    if reference is None:
        reference = reference_space(inputs.clean, positions=inputs.space_positions)
    baseline = compare_with_rule(
        inputs.features,
        labels.to_numpy(),
        reference,
        inputs.model_space,
        inputs.silhouette_sample_size,
        int(chosen.get("seed", 0) or 0),
        space_positions=inputs.space_positions,
    )
    combined = segment_and_repayment(labels.to_numpy(), baseline.repayment)
    repayment_economics, _ = summarise(economics.customers, combined)
    actions = plan_actions(
        inputs.features, economics.customers, labels.to_numpy(), names, inputs.economics
    )
    migration = None
    if inputs.previous_labels is not None:
        current = assignments.set_index(CUST_ID)["segment_name"]
        migration = segment_migration(inputs.previous_labels, current)
    embedding, method = projection(inputs)
    splits = _split_columns(inputs, labels, names)
    figures = render_figures(
        profiles,
        names,
        labels,
        inputs.grid,
        inputs.chosen_cell_id,
        embedding,
        method,
        inputs.silhouette_samples,
        splits,
        embedding_positions=inputs.space_positions,
    )
    since = inputs.since_last_run
    if since is not None and since.figure is not None:
        figures[HISTORY_FIGURE] = since.figure
    context = report_context(
        inputs,
        profiles,
        names,
        explanation,
        recommendations,
        data_look,
        migration,
        figures,
        economics=economics,
        repayment_economics=repayment_economics,
        baseline=baseline,
        actions=actions,
    )
    context["split_sentence"] = split_sentence(splits)
    context["since_last_run"] = since
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
        economics=economics,
        repayment_economics=repayment_economics,
        baseline=baseline,
        actions=actions,
        quantities=context["quantities"],
        context=context,
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
    q = report.quantities
    lines = [
        f"**{q['portfolio.customers']} customers, "
        f"{sum(segment != NOISE_SEGMENT for segment in report.names)} segments.** "
        f"Revenue {q['portfolio.revenue']} a year under the stated assumptions; rules reproduce "
        f"{q['model.fidelity']} of the assignments.",
        "",
        "| Segment | Customers | Revenue a year | Paid < minimum | Action to test |",
        "|---|---:|---:|---:|---|",
    ]
    for segment in profiles.sizes.sort_values("n", ascending=False, kind="stable").index:
        s = int(segment)
        action = report.actions[s]
        lines.append(
            f"| {report.names[s].name} | {q[f'segment.{s}.customers']} "
            f"({q[f'segment.{s}.share']}) | {q[f'segment.{s}.revenue']} | "
            f"{q[f'segment.{s}.below_minimum']} | {action.title} "
            f"({q[f'action.{s}.customers']} customers) |"
        )
    return "\n".join(lines)
