"""The data source: a path the user gave is used or refused, never swapped for synthetic data."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import FileLevelError, ParameterError
from core.settings import PipelineSettings
from tasks.data.source import (
    VALIDATION_BYTES_PER_ROW,
    choose_source,
    materialise_source,
)
from tasks.data.synthetic import write_synthetic


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PipelineSettings:
    monkeypatch.delenv("CCSEG_DATA_PATH", raising=False)
    return PipelineSettings(work_dir=tmp_path)


@pytest.fixture
def real_file(tmp_path: Path) -> Path:
    return write_synthetic(50, 1, tmp_path / "customers.csv")


def test_a_typo_in_data_is_an_error_even_when_no_real_file_exists(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    with pytest.raises(FileLevelError) as raised:
        choose_source(tmp_path / "typo.csv", settings, 100, default_path=tmp_path / "absent.csv")

    assert str(raised.value) == f"{tmp_path / 'typo.csv'}: --data file not found"


def test_a_typo_in_ccseg_data_path_is_an_error_naming_the_variable(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    typo = settings.model_copy(update={"data_path": tmp_path / "typo.csv"})

    with pytest.raises(FileLevelError, match=r"CCSEG_DATA_PATH file not found .*unset CCSEG"):
        choose_source(None, typo, 100, default_path=tmp_path / "absent.csv")


def test_the_flag_wins_over_the_variable(
    settings: PipelineSettings, real_file: Path, tmp_path: Path
) -> None:
    with_variable = settings.model_copy(update={"data_path": tmp_path / "other.csv"})

    choice = choose_source(real_file, with_variable, 100)

    assert (choice.path, choice.what, choice.is_synthetic) == (real_file, "--data", False)


def test_without_any_path_the_real_file_beside_the_project_is_used(
    settings: PipelineSettings, real_file: Path
) -> None:
    choice = choose_source(None, settings, 100, default_path=real_file)

    assert (choice.path, choice.what) == (real_file, "default")


def test_synthetic_data_only_when_no_path_was_given_and_no_real_file_exists(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    choice = choose_source(None, settings, 100, 3, default_path=tmp_path / "absent.csv")

    assert choice.is_synthetic
    assert (choice.synthetic_rows, choice.synthetic_seed) == (100, 3)


@pytest.mark.parametrize("rows", [0, -5, True, 2.5])
def test_nonsense_synthetic_rows_are_refused_even_with_a_real_file(
    rows: object, settings: PipelineSettings, real_file: Path
) -> None:
    with pytest.raises(ParameterError, match="--synthetic-rows must be a whole number"):
        choose_source(real_file, settings, rows, rows_name="--synthetic-rows")  # type: ignore[arg-type]


def test_more_synthetic_rows_than_memory_holds_are_refused_before_any_work(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    import psutil

    too_many = psutil.virtual_memory().total // VALIDATION_BYTES_PER_ROW + 1

    with pytest.raises(ParameterError, match=r"needs about .* GiB of memory; at most"):
        choose_source(None, settings, too_many, default_path=tmp_path / "absent.csv")


def test_synthetic_data_is_written_into_the_runs_own_folder_with_a_banner(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    choice = choose_source(None, settings, 200, default_path=tmp_path / "absent.csv")

    source = materialise_source.fn(choice, tmp_path / "run" / "data", tmp_path / "synthetic")

    assert source.is_synthetic
    assert source.path.parent == tmp_path / "run" / "data"
    assert len(source.path.read_text().splitlines()) == 201
    assert source.banner is not None and source.banner.startswith("*** SYNTHETIC DATA ***")


def test_a_real_choice_is_used_as_is(settings: PipelineSettings, real_file: Path) -> None:
    source = materialise_source.fn(choose_source(real_file, settings, 100), Path("unused"), Path())

    assert (source.path, source.is_synthetic, source.banner) == (real_file, False, None)
