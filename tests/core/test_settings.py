"""Pipeline settings: embedded defaults, environment overrides, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CcsegError, ParameterError
from core.settings import (
    DEFAULT_DATA_PATH,
    PipelineSettings,
    load_settings,
    require_existing_store,
)

SETTING_VARIABLES = (
    "CCSEG_DATA_PATH",
    "CCSEG_WORK_DIR",
    "CCSEG_MLFLOW_TRACKING_URI",
    "CCSEG_EXPERIMENT_NAME",
    "CCSEG_REGISTERED_MODEL_NAME",
    "MLFLOW_TRACKING_URI",
    "CCSEG_LOCK_WAIT_SECONDS",
    "CCSEG_KEEP_RUNS",
)


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Each test starts from the embedded defaults, whatever the developer's shell exports."""
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_need_no_environment() -> None:
    settings = load_settings()

    assert settings.data_path is None  # unset: the real file beside the project, else synthetic
    assert settings.experiment_name == "cc-segmentation"
    assert settings.registered_model_name == "cc-segmentation"
    assert settings.outputs_dir == Path("outputs")


@pytest.mark.parametrize("variable", ["CCSEG_EXPERIMENT_NAME", "CCSEG_REGISTERED_MODEL_NAME"])
def test_empty_name_in_the_environment_raises_a_clear_parameter_error(
    variable: str, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv(variable, "")

    with pytest.raises(ParameterError) as raised:
        load_settings()

    message = str(raised.value)
    assert message.startswith(f"invalid CCSEG_ setting: {variable}: ")  # as the user set it
    assert "at least 1 character" in message
    assert "\n" not in message


def test_invalid_override_raises_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="CCSEG_EXPERIMENT_NAME: String should have"):
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


def test_empty_data_path_variable_means_unset_not_the_current_folder(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    bare_environment.setenv("CCSEG_DATA_PATH", "  ")

    assert load_settings().data_path is None


def test_the_real_file_is_looked_for_beside_the_project_not_the_current_folder() -> None:
    assert DEFAULT_DATA_PATH.is_absolute()
    assert DEFAULT_DATA_PATH.parts[-3:] == ("shared", "data", "cc_general.csv")


def test_synthetic_runs_get_their_own_folder_experiment_and_model(
    tmp_path: Path, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv("CCSEG_WORK_DIR", str(tmp_path))
    real = load_settings()

    synthetic = real.for_synthetic_data()

    assert synthetic.work_dir == tmp_path / "synthetic"
    assert synthetic.tracking_uri == f"sqlite:///{tmp_path / 'synthetic' / 'mlflow.db'}"
    assert synthetic.experiment_name == "cc-segmentation-synthetic"
    assert synthetic.registered_model_name == "cc-segmentation-synthetic"
    assert real.work_dir == tmp_path  # the real settings are untouched


def test_a_shared_tracking_server_keeps_synthetic_models_under_another_name(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    bare_environment.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")

    synthetic = load_settings().for_synthetic_data()

    assert synthetic.tracking_uri == "http://127.0.0.1:5000"
    assert synthetic.registered_model_name != load_settings().registered_model_name


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:////abs/folder/mlflow.db", Path("/abs/folder/mlflow.db")),
        ("sqlite:///relative/mlflow.db", Path("relative/mlflow.db")),
        ("http://127.0.0.1:5000", None),
        ("postgresql://u@db/mlflow", None),
    ],
)
def test_sqlite_store_path_is_the_database_file_or_none(
    uri: str, expected: Path | None, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv("MLFLOW_TRACKING_URI", uri)

    assert load_settings().sqlite_store_path == expected


def test_reading_a_model_never_creates_an_empty_store(
    tmp_path: Path, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv("CCSEG_WORK_DIR", str(tmp_path))

    with pytest.raises(ParameterError, match=r"no MLflow store at .*mlflow\.db"):
        require_existing_store(load_settings())

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("variable", "value", "setting"),
    [
        ("CCSEG_LOCK_WAIT_SECONDS", "-1", "CCSEG_LOCK_WAIT_SECONDS: Input should be greater"),
        ("CCSEG_KEEP_RUNS", "0", "CCSEG_KEEP_RUNS: Input should be greater"),
    ],
)
def test_out_of_range_run_settings_are_parameter_errors(
    variable: str, value: str, setting: str, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv(variable, value)

    with pytest.raises(ParameterError, match=setting):
        load_settings()


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


def test_against_an_mlflow_server_the_artifact_location_is_left_to_its_proxy(
    tmp_path: Path,
) -> None:
    server = PipelineSettings(work_dir=tmp_path, mlflow_tracking_uri="http://127.0.0.1:5000")
    local = PipelineSettings(work_dir=tmp_path, mlflow_tracking_uri=None)

    assert server.artifact_location is None
    assert local.artifact_location == (tmp_path / "mlartifacts").resolve().as_uri()


def test_drift_thresholds_are_read_from_their_variables(monkeypatch) -> None:
    monkeypatch.setenv("CCSEG_DRIFT_FEATURE_DRIFT", "0.35")
    monkeypatch.setenv("CCSEG_DRIFT_MIN_ROWS", "10")

    drift = load_settings().drift

    assert (drift.feature_warn, drift.feature_drift, drift.min_rows) == (0.1, 0.35, 10)


def test_a_drift_warn_above_its_drift_threshold_names_both_variables(monkeypatch) -> None:
    monkeypatch.setenv("CCSEG_DRIFT_SHARES_WARN", "0.5")

    with pytest.raises(ParameterError) as error:
        load_settings()

    assert "CCSEG_DRIFT_SHARES_WARN (0.5) must not exceed CCSEG_DRIFT_SHARES_DRIFT (0.2)" in str(
        error.value
    )
