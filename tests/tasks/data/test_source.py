"""Which file the flow reads: the user's, the real one, or synthetic data with a banner."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.errors import ParameterError
from tasks.data.source import resolve_data


def test_an_explicit_file_that_does_not_exist_is_a_parameter_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"

    with pytest.raises(ParameterError) as caught:
        resolve_data.fn(missing, tmp_path / "default.csv", tmp_path / "synthetic", 10, 0)

    assert str(caught.value) == f"data file not found: {missing}"
    assert not (tmp_path / "synthetic").exists()


def test_an_explicit_file_wins_over_the_default(tmp_path: Path) -> None:
    mine, default = tmp_path / "mine.csv", tmp_path / "default.csv"
    mine.write_text("x\n")
    default.write_text("y\n")

    source = resolve_data.fn(mine, default, tmp_path / "synthetic", 10, 0)

    assert (source.path, source.is_synthetic, source.banner) == (mine, False, None)


def test_the_default_file_is_used_when_present(tmp_path: Path) -> None:
    default = tmp_path / "default.csv"
    default.write_text("y\n")

    source = resolve_data.fn(None, default, tmp_path / "synthetic", 10, 0)

    assert (source.path, source.is_synthetic) == (default, False)


def test_without_any_file_synthetic_data_is_generated_and_announced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    default = tmp_path / "missing.csv"

    source = resolve_data.fn(None, default, tmp_path / "synthetic", 25, 3)

    assert source.is_synthetic
    assert source.path == tmp_path / "synthetic" / "cc_synthetic_25_seed3.csv"
    assert len(pd.read_csv(source.path)) == 25
    assert source.path.with_suffix(".labels.csv").is_file()
    assert str(default) in source.banner and "25 generated customers" in source.banner
    assert source.banner in capsys.readouterr().out
