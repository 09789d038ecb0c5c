"""Pipeline settings: one pydantic-settings object, env prefix CCSEG_ (and MLFLOW_TRACKING_URI)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ParameterError

# The real dataset sits beside the project checkout; resolved from here, not from the caller's cwd.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_PATH = (PROJECT_ROOT / ".." / "shared" / "data" / "cc_general.csv").resolve()
# Synthetic runs live apart from real ones: their own folder inside the working folder, and
# their own experiment and registered model, so a shared tracking server keeps them apart too.
SYNTHETIC_DIR = "synthetic"
SYNTHETIC_SUFFIX = "-synthetic"


class PipelineSettings(BaseSettings):
    """Where data, outputs and the MLflow store live; every field has an embedded default."""

    model_config = SettingsConfigDict(env_prefix="CCSEG_", extra="ignore")

    data_path: Path | None = Field(
        None,
        description="The CC GENERAL CSV to segment. Unset: the real file beside the project "
        "if present, else synthetic data. Set but missing: an error, never a fallback.",
    )
    work_dir: Path = Field(
        Path("."), description="Folder for outputs/, reports/, the lock and mlflow.db."
    )
    # The standard MLflow variable wins, so a user's existing MLflow setup is honoured unchanged.
    mlflow_tracking_uri: str | None = Field(
        None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "CCSEG_MLFLOW_TRACKING_URI")
    )
    experiment_name: str = Field("cc-segmentation", min_length=1)
    registered_model_name: str = Field("cc-segmentation", min_length=1)
    lock_wait_seconds: float = Field(
        0.0,
        ge=0,
        description="How long a run waits for another run on the same working folder before "
        "refusing (0: refuse at once).",
    )
    keep_runs: int = Field(
        3, ge=1, description="Completed runs kept in the working folder (the current one too)."
    )

    @field_validator("data_path", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # `CCSEG_DATA_PATH= ccseg run` clears the variable; it does not name the current folder.
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.work_dir / 'mlflow.db').resolve()}"

    @property
    def sqlite_store_path(self) -> Path | None:
        """The database file when the store is sqlite (the default), else None."""
        parts = urlsplit(self.tracking_uri)
        if parts.scheme != "sqlite":
            return None
        # sqlite:///relative.db and sqlite:////absolute.db: the path follows the third slash.
        return Path(unquote(parts.path[1:] if parts.path.startswith("/") else parts.path))

    @property
    def artifact_location(self) -> str:
        return (self.work_dir / "mlartifacts").resolve().as_uri()

    @property
    def outputs_dir(self) -> Path:
        return self.work_dir / "outputs"

    @property
    def reports_dir(self) -> Path:
        return self.work_dir / "reports"

    def for_synthetic_data(self) -> PipelineSettings:
        """Where a synthetic run goes: its own folder, experiment and registered model."""
        return self.model_copy(
            update={
                "work_dir": self.work_dir / SYNTHETIC_DIR,
                "experiment_name": f"{self.experiment_name}{SYNTHETIC_SUFFIX}",
                "registered_model_name": f"{self.registered_model_name}{SYNTHETIC_SUFFIX}",
            }
        )


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


def require_existing_store(settings: PipelineSettings) -> None:
    """Commands that read a model (score) must find the store a run wrote, never make one."""
    database = settings.sqlite_store_path
    if database is not None and not database.is_file():
        raise ParameterError(
            f"no MLflow store at {database}: models live in the store of the working folder "
            "`ccseg run` used; run from that folder, or set CCSEG_WORK_DIR (or "
            "MLFLOW_TRACKING_URI) to it"
        )
