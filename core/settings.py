"""Pipeline settings: one pydantic-settings object, env prefix CCSEG_ (and MLFLOW_TRACKING_URI)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ParameterError

# The real dataset sits beside the project checkout; resolved from here, not from the caller's cwd.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_PATH = (PROJECT_ROOT / ".." / "shared" / "data" / "cc_general.csv").resolve()


class PipelineSettings(BaseSettings):
    """Where data, outputs and the MLflow store live; every field has an embedded default."""

    model_config = SettingsConfigDict(env_prefix="CCSEG_", extra="ignore")

    data_path: Path = Field(DEFAULT_DATA_PATH, description="The CC GENERAL CSV to segment.")
    work_dir: Path = Field(Path("."), description="Folder for outputs/, reports/ and mlflow.db.")
    # The standard MLflow variable wins, so a user's existing MLflow setup is honoured unchanged.
    mlflow_tracking_uri: str | None = Field(
        None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "CCSEG_MLFLOW_TRACKING_URI")
    )
    experiment_name: str = Field("cc-segmentation", min_length=1)
    registered_model_name: str = Field("cc-segmentation", min_length=1)

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.work_dir / 'mlflow.db').resolve()}"

    @property
    def artifact_location(self) -> str:
        return (self.work_dir / "mlartifacts").resolve().as_uri()

    @property
    def outputs_dir(self) -> Path:
        return self.work_dir / "outputs"

    @property
    def reports_dir(self) -> Path:
        return self.work_dir / "reports"


def load_settings(**overrides: object) -> PipelineSettings:
    """Settings from the environment; a malformed value becomes one actionable ParameterError."""
    try:
        return PipelineSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ParameterError(f"invalid CCSEG_ setting: {problems}") from None
