"""Pipeline settings: embedded defaults, environment overrides, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CcsegError, ParameterError
from core.settings import DEFAULT_DATA_PATH, PipelineSettings, load_settings

SETTING_VARIABLES = (
    "CCSEG_DATA_PATH",
    "CCSEG_WORK_DIR",
    "CCSEG_MLFLOW_TRACKING_URI",
    "CCSEG_EXPERIMENT_NAME",
    "CCSEG_REGISTERED_MODEL_NAME",
    "MLFLOW_TRACKING_URI",
)


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Each test starts from the embedded defaults, whatever the developer's shell exports."""
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_need_no_environment() -> None:
    settings = load_settings()

    assert settings.data_path == DEFAULT_DATA_PATH
    assert settings.experiment_name == "cc-segmentation"
    assert settings.registered_model_name == "cc-segmentation"
    assert settings.outputs_dir == Path("outputs")


@pytest.mark.parametrize(
    ("variable", "setting"),
    [
        ("CCSEG_EXPERIMENT_NAME", "experiment_name"),
        ("CCSEG_REGISTERED_MODEL_NAME", "registered_model_name"),
    ],
)
def test_empty_name_in_the_environment_raises_a_clear_parameter_error(
    variable: str, setting: str, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv(variable, "")

    with pytest.raises(ParameterError) as raised:
        load_settings()

    message = str(raised.value)
    assert message.startswith("invalid CCSEG_ setting: ")
    assert setting in message
    assert "at least 1 character" in message
    assert "\n" not in message


def test_invalid_override_raises_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="experiment_name"):
        load_settings(experiment_name="")


def test_parameter_error_ends_the_cli_with_exit_code_2() -> None:
    assert issubclass(ParameterError, CcsegError)
    assert ParameterError("x").exit_code == 2


def test_default_tracking_uri_is_a_sqlite_file_in_the_work_dir(
    tmp_path: Path, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv("CCSEG_WORK_DIR", str(tmp_path))

    settings = load_settings()

    assert settings.tracking_uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    assert settings.artifact_location == (tmp_path / "mlartifacts").resolve().as_uri()


def test_mlflow_tracking_uri_wins_over_the_sqlite_default(
    tmp_path: Path, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv("CCSEG_WORK_DIR", str(tmp_path))
    bare_environment.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")

    assert load_settings().tracking_uri == "http://127.0.0.1:5000"


def test_mlflow_tracking_uri_wins_over_the_ccseg_prefixed_one(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    bare_environment.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    bare_environment.setenv("CCSEG_MLFLOW_TRACKING_URI", "http://127.0.0.1:5001")

    assert load_settings().tracking_uri == "http://127.0.0.1:5000"


def test_ccseg_prefixed_tracking_uri_is_used_when_mlflow_one_is_absent(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    bare_environment.setenv("CCSEG_MLFLOW_TRACKING_URI", "http://127.0.0.1:5001")

    assert load_settings().tracking_uri == "http://127.0.0.1:5001"


def test_data_path_comes_from_ccseg_data_path(
    tmp_path: Path, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv("CCSEG_DATA_PATH", str(tmp_path / "drop.csv"))

    assert load_settings().data_path == tmp_path / "drop.csv"


def test_explicit_override_wins_over_the_environment(bare_environment: pytest.MonkeyPatch) -> None:
    bare_environment.setenv("CCSEG_EXPERIMENT_NAME", "from-environment")

    assert load_settings(experiment_name="from-caller").experiment_name == "from-caller"


def test_unrelated_ccseg_variables_are_ignored(bare_environment: pytest.MonkeyPatch) -> None:
    bare_environment.setenv("CCSEG_SOMETHING_ELSE", "1")

    assert isinstance(load_settings(), PipelineSettings)


def test_money_assumptions_have_a_low_and_a_high_and_each_can_be_overridden(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    bare_environment.setenv("CCSEG_ECONOMICS_PURCHASE_APR_LOW", "0.18")
    economics = load_settings().economics
    apr = economics.assumption("purchase_apr")
    assert (apr.low, apr.high) == (0.18, 0.25)
    assert apr.env_names == (
        "CCSEG_ECONOMICS_PURCHASE_APR_LOW",
        "CCSEG_ECONOMICS_PURCHASE_APR_HIGH",
    )
    assert [a.key for a in economics.assumptions()] == [
        "interchange_rate",
        "purchase_apr",
        "cash_advance_fee",
        "stress_loss_rate",
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "CCSEG_ECONOMICS_PURCHASE_APR_LOW",
            "0.3",
            r"CCSEG_ECONOMICS_PURCHASE_APR_LOW \(0.3\) must not exceed "
            r"CCSEG_ECONOMICS_PURCHASE_APR_HIGH \(0.25\)",
        ),
        (
            "CCSEG_ECONOMICS_INTERCHANGE_RATE_HIGH",
            "lots",
            r"CCSEG_ECONOMICS_INTERCHANGE_RATE_HIGH: .*number",
        ),
        ("CCSEG_ECONOMICS_STRESS_LOSS_RATE_HIGH", "1.5", r"STRESS_LOSS_RATE_HIGH: .*1"),
    ],
)
def test_a_malformed_money_assumption_is_one_actionable_error(
    bare_environment: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    bare_environment.setenv(name, value)
    with pytest.raises(ParameterError, match=message):
        load_settings()
