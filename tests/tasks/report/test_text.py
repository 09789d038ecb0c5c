"""Limitations quote this run's numbers, as the report writes them, and flag synthetic data."""

from __future__ import annotations

from tasks.report.text import limitations


def _items(report, inputs, **meta):
    return limitations(
        inputs.clean,
        inputs.validation,
        report.profiles,
        report.quantities,
        report.explanation,
        {**inputs.run_meta, **meta},
    )


def test_each_limitation_carries_a_number_of_this_run(synthetic_inputs, synthetic_report):
    items = _items(synthetic_report, synthetic_inputs, is_synthetic=False)
    q = synthetic_report.quantities
    text = " ".join(items)
    assert f"{len(synthetic_inputs.clean):,} rows" in text
    assert q["portfolio.below_minimum"] in text and q["portfolio.revenue"] in text
    assert q["model.stability"] in text and q["model.fidelity"] in text
    assert not any("SYNTHETIC" in item for item in items)


def test_a_synthetic_run_says_so_first(synthetic_inputs, synthetic_report):
    items = _items(synthetic_report, synthetic_inputs, is_synthetic=True)
    assert items[0].startswith("This run used SYNTHETIC data")


def test_without_finalists_the_grid_stability_is_quoted(synthetic_inputs, synthetic_report):
    q = {k: v for k, v in synthetic_report.quantities.items() if not k.startswith("model.stab")}
    items = limitations(
        synthetic_inputs.clean,
        synthetic_inputs.validation,
        synthetic_report.profiles,
        q,
        synthetic_report.explanation,
        {},
    )
    assert q["model.grid_stability"] in " ".join(items)
