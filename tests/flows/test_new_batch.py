"""Event-started runs: which grid they use, and where a landed batch goes without a champion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ParameterError
from core.settings import PipelineSettings
from flows.new_batch import event_grid, has_champion, scored_path
from tasks.segmentation.grid import GridSpecError, parse_grid_spec

SMALL = {"feature_sets": ["behavioural"], "algorithms": [{"name": "kmeans", "ks": [3, 4]}]}


def test_without_a_parameter_or_setting_the_default_grid_is_left_to_the_flow() -> None:
    assert event_grid(None, PipelineSettings(event_grid=None)) is None


def test_the_setting_gives_the_grid_as_json_text_or_a_file(tmp_path: Path) -> None:
    spec = tmp_path / "grid.json"
    spec.write_text(json.dumps(SMALL))

    from_text = event_grid(None, PipelineSettings(event_grid=json.dumps(SMALL)))
    from_file = event_grid(None, PipelineSettings(event_grid=f"@{spec}"))

    assert from_text == from_file == parse_grid_spec(SMALL)
    assert len(from_text.cells()) == 2


def test_the_deployment_parameter_wins_over_the_setting() -> None:
    given = parse_grid_spec({**SMALL, "algorithms": [{"name": "kmeans", "ks": [5]}]})

    assert event_grid(given, PipelineSettings(event_grid=json.dumps(SMALL))) is given


def test_a_missing_grid_file_or_a_bad_grid_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"CCSEG_EVENT_GRID file not found: .*nope\.json"):
        event_grid(None, PipelineSettings(event_grid=f"@{tmp_path / 'nope.json'}"))
    with pytest.raises(GridSpecError, match="not valid JSON"):
        event_grid(None, PipelineSettings(event_grid="{feature_sets"))


def test_a_working_folder_without_a_store_has_no_champion_and_gets_none_made(
    tmp_path: Path,
) -> None:
    settings = PipelineSettings(work_dir=tmp_path, mlflow_tracking_uri=None)

    assert has_champion(settings) is False
    assert not (tmp_path / "mlflow.db").exists()


def test_scored_batches_go_to_the_scored_folder_by_file_stem(tmp_path: Path) -> None:
    settings = PipelineSettings(work_dir=tmp_path)

    assert scored_path(settings, Path("/in/batch-7.csv")) == tmp_path / "scored" / "batch-7.csv"
