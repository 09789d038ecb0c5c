"""One number per quantity: every figure the report shows for a quantity agrees, wherever it is.

The HTML tags each number with its quantity id (`data-q`); these tests read every tagged number
back out of the rendered page, then check the untagged places (the prose of the limitations and
of the selection reasoning, the figure labels, the Prefect summary, analysis.json) against them.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict

import pytest

from tasks.report.build import Report, summary_markdown
from tasks.report.figures import profile_labels

TAGGED = re.compile(r'<span data-q="([^"]+)">([^<]*)</span>')


def shown(report: Report) -> dict[str, set[str]]:
    """Quantity id -> every text the page shows for it."""
    texts: dict[str, set[str]] = defaultdict(set)
    for key, text in TAGGED.findall(report.html):
        texts[key].add(html.unescape(text))
    return texts


def _check(report: Report) -> None:
    texts = shown(report)
    disagreeing = {key: values for key, values in texts.items() if len(values) > 1}
    assert disagreeing == {}
    assert {key: next(iter(v)) for key, v in texts.items()} == {
        key: report.quantities[key] for key in texts
    }
    # The same quantity really is shown in several places (the test compares something).
    counts = defaultdict(int)
    for key, _ in TAGGED.findall(report.html):
        counts[key] += 1
    for segment in report.profiles.segments:
        for quantity in ("customers", "share", "revenue", "below_minimum"):
            assert counts[f"segment.{segment}.{quantity}"] >= 2, (segment, quantity)
    assert counts["all.installment_share"] >= 2


def _check_prose(report: Report) -> None:
    q = report.quantities
    limitations = " ".join(report.limitations)
    for key in ("portfolio.below_minimum", "portfolio.revenue", "model.silhouette"):
        assert q[key] in limitations, key
    assert q["model.fidelity"] in limitations
    reasoning = report.context["selection_reasoning"]
    if "model.stability" in q:
        assert q["model.stability"] in reasoning
        assert q["model.stability_ci"] in reasoning
        assert q["model.stability"] in limitations
    summary = summary_markdown(report)
    for segment in report.profiles.segments:
        assert q[f"segment.{segment}.revenue"] in summary
        assert q[f"segment.{segment}.below_minimum"] in summary


def _check_figures(report: Report) -> None:
    for segment in report.profiles.segments:
        for column, (segment_text, all_text, _) in profile_labels(report.profiles, segment).items():
            assert report.quantities[f"segment.{segment}.{column}"].startswith(segment_text)
            assert report.quantities[f"all.{column}"].startswith(all_text)


def test_every_tagged_number_agrees_with_every_other_showing_of_it(synthetic_report):
    _check(synthetic_report)


def test_prose_and_figures_quote_the_same_numbers_as_the_tables(synthetic_report):
    _check_prose(synthetic_report)
    _check_figures(synthetic_report)


def test_a_second_format_of_a_tagged_number_would_be_caught(synthetic_report):
    key = "portfolio.revenue"
    forged = synthetic_report.html.replace(f'<span data-q="{key}">', f'<span data-q="{key}">~', 1)
    with pytest.raises(AssertionError):
        _check(type(synthetic_report)(**{**synthetic_report.__dict__, "html": forged}))


def test_zero_heavy_quantities_show_a_mean_and_the_share_above_zero(synthetic_report):
    profiles, q = synthetic_report.profiles, synthetic_report.quantities
    heavy = [c for c, s in profiles.feature_statistic.items() if s == "mean"]
    assert "full_payment_share" in heavy and "cash_advance_per_month" in heavy
    for column in heavy:
        assert q[f"all.{column}"].endswith("above 0"), column


@pytest.mark.realdata
def test_the_real_report_shows_one_number_per_quantity(real_report):
    _check(real_report)
    _check_prose(real_report)
    _check_figures(real_report)
