"""Every segment gets a headline and a meaning that quotes its own numbers, one text each."""

from __future__ import annotations

import pandas as pd
import pytest
from markupsafe import escape

from tasks.data.synthetic import generate_synthetic
from tasks.profiling.naming import ARCHETYPE_BY_KEY, NOISE_ARCHETYPE, SegmentName, name_segments
from tasks.profiling.profiles import profile_segments
from tasks.profiling.traits import behaviour_traits
from tasks.report.recommendations import (
    FACT_COLUMNS,
    PLAYBOOKS,
    quantity_key,
    recommend,
    segment_facts,
    segment_value_text,
)
from tasks.segmentation.features import engineer_features


@pytest.fixture(scope="module")
def analysed():
    clean, planted = generate_synthetic(2000, seed=5)
    labels = pd.Series(pd.factorize(planted, sort=True)[0])
    profiles = profile_segments(clean, engineer_features(clean), labels)
    return profiles, name_segments(behaviour_traits(clean), labels)


def test_every_segment_gets_a_headline_and_a_meaning_without_placeholders(analysed):
    profiles, names = analysed
    advice = recommend(profiles, names)
    assert sorted(advice) == profiles.segments
    for segment, item in advice.items():
        assert item.name == names[segment].name
        assert item.headline and item.meaning
        assert "{" not in item.meaning


def test_the_meaning_quotes_the_segments_values_and_tags_each_in_html(analysed):
    profiles, names = analysed
    for segment, item in recommend(profiles, names).items():
        template = PLAYBOOKS[names[segment].archetype].meaning
        quoted = [c for key, c in FACT_COLUMNS.items() if "{" + key + "}" in template]
        assert quoted, f"{item.name}: the meaning quotes no number"
        for column in quoted:
            text = segment_value_text(profiles, segment, column)
            assert text in item.meaning
            tag = f'<span data-q="{quantity_key(segment, column)}">{escape(text)}</span>'
            assert tag in str(item.meaning_html)


def test_every_archetype_has_a_playbook_whose_placeholders_all_resolve(analysed):
    profiles, _ = analysed
    assert set(PLAYBOOKS) == set(ARCHETYPE_BY_KEY) | {NOISE_ARCHETYPE}
    for key in PLAYBOOKS:
        forced = {s: SegmentName(s, f"{key} {s}", key) for s in profiles.segments}
        for item in recommend(profiles, forced).values():
            assert "{" not in item.meaning


def test_facts_are_the_one_statistic_of_each_quantity(analysed):
    profiles, _ = analysed
    facts = segment_facts(profiles, profiles.segments[0])
    assert profiles.feature_statistic["full_payment_share"] == "mean"
    assert facts["full_pay"].endswith("above 0")
    assert profiles.feature_statistic["credit_limit"] == "median"
    assert (
        facts["limit"] == f"{profiles.feature_values.at[profiles.segments[0], 'credit_limit']:,.0f}"
    )
