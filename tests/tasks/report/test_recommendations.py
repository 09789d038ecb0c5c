"""Every segment gets meaning, five actions and a value statement quoting its own numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.profiling.naming import ARCHETYPE_BY_KEY, NOISE_ARCHETYPE, SegmentName, name_segments
from tasks.profiling.profiles import profile_segments
from tasks.profiling.traits import behaviour_traits
from tasks.report.recommendations import AREAS, PLAYBOOKS, recommend, segment_facts
from tasks.segmentation.features import engineer_features


@pytest.fixture(scope="module")
def analysed():
    clean, planted = generate_synthetic(2000, seed=5)
    labels = pd.Series(pd.factorize(planted, sort=True)[0])
    profiles = profile_segments(clean, engineer_features(clean), labels)
    return profiles, name_segments(behaviour_traits(clean), labels)


def test_every_segment_gets_a_headline_meaning_value_and_one_action_per_area(analysed):
    profiles, names = analysed
    advice = recommend(profiles, names)
    assert sorted(advice) == profiles.segments
    for segment, item in advice.items():
        assert item.name == names[segment].name
        assert item.headline and item.meaning and item.value
        assert list(item.actions) == list(AREAS)
        assert all(text.strip() for text in item.actions.values())
        assert "{" not in item.meaning + item.value + "".join(item.actions.values())


def test_value_statements_quote_the_segments_own_numbers(analysed):
    profiles, names = analysed
    advice = recommend(profiles, names)
    for segment, item in advice.items():
        facts = segment_facts(profiles, segment)
        quoted = [
            v
            for k, v in facts.items()
            if "{" + k + "}" in PLAYBOOKS[names[segment].archetype].value
        ]
        assert quoted, f"{item.name}: the value statement quotes no number"
        assert all(v in item.value for v in quoted)


def test_every_archetype_has_a_playbook_whose_placeholders_all_resolve(analysed):
    profiles, _ = analysed
    facts = segment_facts(profiles, profiles.segments[0])
    assert set(PLAYBOOKS) == set(ARCHETYPE_BY_KEY) | {NOISE_ARCHETYPE}
    for key in PLAYBOOKS:
        forced = {s: SegmentName(s, f"{key} {s}", key) for s in profiles.segments}
        for item in recommend(profiles, forced).values():
            assert len(item.actions) == len(AREAS)
    assert facts["customers_share"].endswith("%")
