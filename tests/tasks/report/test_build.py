"""The report: complete for every segment, self-contained, built from computed numbers only."""

from __future__ import annotations

import base64
import dataclasses
import json
import re

import pytest
from markupsafe import escape

from schemas.raw import RULES
from tasks.profiling.naming import NOISE_NAME, NOISE_SEGMENT, SegmentName
from tasks.report.analysis import ANALYSIS_FILE
from tasks.report.build import REPORT_FILE, build_report, summary_markdown, write_report

SECTIONS = (
    "summary",
    "data",
    "method",
    "baseline",
    "economics",
    "segments",
    "actions",
    "limitations",
    "robustness",
    "further",
)


def external_fetches(html: str) -> list[str]:
    """Every src/href/url() target that a browser would fetch from outside the file."""
    targets = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, flags=re.IGNORECASE)
    targets += re.findall(r"url\(\s*['\"]?([^'\")]+)", html, flags=re.IGNORECASE)
    return [t for t in targets if not (t.startswith("data:") or t.startswith("#"))]


def test_every_segment_has_a_name_rules_a_meaning_and_an_action(synthetic_report):
    report = synthetic_report
    segments = report.profiles.segments
    assert sorted(report.names) == sorted(report.explanation.rules) == segments
    assert sorted(report.recommendations) == sorted(report.actions) == segments
    for segment in segments:
        name = report.names[segment].name
        assert report.explanation.rules[segment]
        assert name in report.html
        assert str(report.recommendations[segment].meaning_html) in report.html
        assert str(escape(report.actions[segment].target)) in report.html
        for rule in report.explanation.rules[segment]:
            assert str(escape(rule.text)) in report.html


def test_every_validation_rule_is_shown_with_its_count_and_why(synthetic_inputs, synthetic_report):
    counts = synthetic_inputs.validation["hard_rule_counts"]
    counts = counts | synthetic_inputs.validation["soft_rule_counts"]
    assert set(counts) == set(RULES)
    for name, rule in RULES.items():
        row = (
            f"<tr><td><code>{name}</code></td><td>{rule.tier}</td>"
            f'<td class="num">{counts[name]:,}</td><td>{escape(rule.why)}</td></tr>'
        )
        assert row in synthetic_report.html


def test_html_fetches_nothing_from_outside_and_has_no_script(synthetic_report):
    html = synthetic_report.html
    assert external_fetches(html) == []
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "@import" not in html and "@font-face" not in html


def test_embedded_images_are_exactly_the_figure_bytes(synthetic_report):
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', synthetic_report.html)
    decoded = {base64.b64decode(data) for data in embedded}
    assert decoded == set(synthetic_report.figures.values())


def test_synthetic_run_carries_the_banner_and_every_section(synthetic_report):
    html = synthetic_report.html
    assert 'id="synthetic-banner"' in html
    assert html.index('id="synthetic-banner"') < html.index("<header")
    for section in SECTIONS:
        assert f'<section id="{section}">' in html


def test_numbers_in_the_report_are_the_ones_computed_from_the_inputs(
    synthetic_inputs, synthetic_report
):
    html = synthetic_report.html
    validation = synthetic_inputs.validation
    assert f"{validation['rows_in']:,} rows read" in html
    assert f"{validation['rows_clean']:,} clean" in html
    for quirk in synthetic_report.data_look.quirks:
        assert str(escape(quirk.finding)) in html
    chosen = synthetic_inputs.grid.set_index("cell_id").loc[synthetic_inputs.chosen_cell_id]
    reference = f"{chosen['reference_silhouette']:.3f}"
    assert f'<b><span data-q="model.reference_silhouette">{reference}</span></b>' in html
    assert f"{synthetic_report.explanation.fidelity:.1%}" in html


def test_report_is_identical_when_built_twice(synthetic_inputs, synthetic_report):
    assert build_report(synthetic_inputs).html == synthetic_report.html


def test_migration_section_reconciles_with_the_previous_names(synthetic_inputs, synthetic_report):
    previous = synthetic_report.assignments.set_index("CUST_ID")["segment_name"].copy()
    previous.iloc[:100] = "Some retired segment"
    report = build_report(dataclasses.replace(synthetic_inputs, previous_labels=previous))
    migration = report.migration
    assert migration is not None
    assert migration.matched == len(previous)
    assert migration.stayed == len(previous) - 100
    assert int(migration.crosstab.to_numpy().sum()) == migration.matched
    assert '<section id="migration">' in report.html
    assert f"{migration.stayed:,} ({migration.stayed_share:.1%})" in report.html


def test_write_report_writes_the_html_and_every_figure(synthetic_report, tmp_path):
    path = write_report(synthetic_report, tmp_path / "reports")
    assert path == tmp_path / "reports" / REPORT_FILE
    assert path.read_text(encoding="utf-8") == synthetic_report.html
    for name, data in synthetic_report.figures.items():
        assert (tmp_path / "reports" / "figures" / f"{name}.png").read_bytes() == data
    assert not list((tmp_path / "reports").glob(".*.tmp"))


def test_analysis_json_beside_the_html_carries_what_the_report_shows(synthetic_report, tmp_path):
    write_report(synthetic_report, tmp_path)
    analysis = json.loads((tmp_path / ANALYSIS_FILE).read_text(encoding="utf-8"))
    report = synthetic_report
    assert analysis["limitations"] == report.limitations
    for limitation in report.limitations:
        assert str(escape(limitation)) in report.html
    assert [q["finding"] for q in analysis["quirks"]] == [
        q.finding for q in report.data_look.quirks
    ]
    assert analysis["quantities"] == report.quantities
    for segment, named in report.names.items():
        entry = analysis["segments"][str(segment)]
        assert (entry["name"], entry["archetype"]) == (named.name, named.archetype)
        assert entry["customers"] == int(report.profiles.sizes.at[segment, "n"])
        action = analysis["actions"][str(segment)]
        assert action["customers"] == report.actions[segment].customers
        assert action["per_arm"] == report.actions[segment].test.per_arm
        values = analysis["segment_values"][str(segment)]
        expected = report.profiles.feature_values.loc[segment].to_dict()
        assert values == pytest.approx(expected)
        revenue = analysis["economics"][str(segment)]["revenue_high"]
        assert revenue == pytest.approx(report.economics.by_group.at[segment, "revenue_high"])


def test_a_chosen_cell_missing_from_the_grid_is_refused(synthetic_inputs):
    broken = dataclasses.replace(synthetic_inputs, chosen_cell_id="no-such-cell")
    with pytest.raises(ValueError, match="no-such-cell"):
        build_report(broken)


@pytest.mark.realdata
def test_report_is_generated_for_the_real_data(real_inputs, real_report):
    report, validation = real_report, real_inputs.validation
    assert report.profiles.n_customers == len(real_inputs.clean) == validation["rows_clean"]
    assert 'id="synthetic-banner"' not in report.html
    assert f"{validation['rows_in']:,} rows read" in report.html
    assert external_fetches(report.html) == []
    assert len({n.name for n in report.names.values()}) == len(report.names)
    assert all(report.explanation.rules[s] for s in report.profiles.segments)


def test_summary_markdown_has_one_row_per_segment_with_its_numbers(synthetic_report):
    text = summary_markdown(synthetic_report)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(synthetic_report.names) + 1  # the header, then one per segment
    q = synthetic_report.quantities
    for segment, named in synthetic_report.names.items():
        n = int(synthetic_report.profiles.sizes.at[segment, "n"])
        revenue = q[f"segment.{segment}.revenue"]
        assert any(named.name in row and f"{n:,}" in row and revenue in row for row in rows)


def test_summary_markdown_does_not_count_noise_as_a_segment(synthetic_report):
    segments = len(synthetic_report.names)
    noise = SegmentName(NOISE_SEGMENT, NOISE_NAME, "noise", None, {})
    with_noise = dataclasses.replace(
        synthetic_report, names={**synthetic_report.names, NOISE_SEGMENT: noise}
    )
    assert f", {segments} segments.**" in summary_markdown(with_noise)


def test_only_methods_the_run_used_are_named(synthetic_inputs, synthetic_report):
    used = set(synthetic_inputs.grid["algorithm"])
    assert used == {"kmeans"}
    html = synthetic_report.html
    for other in ("minibatch_kmeans", "gmm", "ward", "hdbscan"):
        assert f"<code>{other}</code>" not in html
    assert "BIC judges" not in html and "<code>kmeans</code> <b>(chosen)</b>" in html
