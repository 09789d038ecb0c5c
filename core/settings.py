"""Pipeline settings: one pydantic-settings object, env prefix CCSEG_ (and MLFLOW_TRACKING_URI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ParameterError

# The real dataset sits beside the project checkout; resolved from here, not from the caller's cwd.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_PATH = (PROJECT_ROOT / ".." / "shared" / "data" / "cc_general.csv").resolve()
# Synthetic runs live apart from real ones: their own folder inside the working folder, and
# their own experiment and registered model, so a shared tracking server keeps them apart too.
SYNTHETIC_DIR = "synthetic"
SYNTHETIC_SUFFIX = "-synthetic"


@dataclass(frozen=True)
class Assumption:
    """A money assumption the data cannot supply: what it is, a low and a high value."""

    key: str
    description: str
    low: float
    high: float

    @property
    def env_names(self) -> tuple[str, str]:
        prefix = f"CCSEG_ECONOMICS_{self.key.upper()}"
        return f"{prefix}_LOW", f"{prefix}_HIGH"


def _rate(default: float, description: str) -> Any:
    return Field(default, ge=0.0, le=1.0, description=description)


class EconomicsSettings(BaseSettings):
    """What the report assumes to put segments in money (tasks/report/economics.py).

    CC GENERAL has no prices, rates or losses, so each is a named assumption with a low and a
    high value (`<name>_low`, `<name>_high`), and the report shows every money figure as the range
    between them. Defaults are typical of a US general-purpose card; override any one, e.g.
    `CCSEG_ECONOMICS_PURCHASE_APR_LOW=0.18`.
    """

    model_config = SettingsConfigDict(env_prefix="CCSEG_ECONOMICS_", extra="ignore", frozen=True)

    interchange_rate_low: float = _rate(0.015, "Interchange earned, share of purchase value.")
    interchange_rate_high: float = _rate(0.025, "Interchange earned, share of purchase value.")
    purchase_apr_low: float = _rate(0.15, "Annual interest on the revolving balance.")
    purchase_apr_high: float = _rate(0.25, "Annual interest on the revolving balance.")
    cash_advance_fee_low: float = _rate(0.03, "Fee on each cash advance, share of the amount.")
    cash_advance_fee_high: float = _rate(0.05, "Fee on each cash advance, share of the amount.")
    stress_loss_rate_low: float = _rate(0.10, "Share of a stressed balance lost in a year.")
    stress_loss_rate_high: float = _rate(0.30, "Share of a stressed balance lost in a year.")

    @model_validator(mode="after")
    def _low_not_above_high(self) -> EconomicsSettings:
        for key in ASSUMPTION_KEYS:
            low, high = getattr(self, f"{key}_low"), getattr(self, f"{key}_high")
            if low > high:
                low_name, high_name = self.assumption(key).env_names
                raise ValueError(f"{low_name} ({low}) must not exceed {high_name} ({high})")
        return self

    def assumption(self, key: str) -> Assumption:
        field = type(self).model_fields[f"{key}_low"]
        return Assumption(
            key, field.description or key, getattr(self, f"{key}_low"), getattr(self, f"{key}_high")
        )

    def assumptions(self) -> list[Assumption]:
        return [self.assumption(key) for key in ASSUMPTION_KEYS]


ASSUMPTION_KEYS = ("interchange_rate", "purchase_apr", "cash_advance_fee", "stress_loss_rate")


class DriftSettings(BaseSettings):
    """When a batch counts as moved away from the champion's training data (tasks/drift/).

    Each measure has a `warn` and a `drift` threshold: the verdict is the worst level any measure
    reaches. Feature scores are the Wasserstein distance between the batch's and the reference's
    quantiles, in units of the reference's standard deviation (Evidently's default drift test;
    0.1 is its threshold). Shares are the Jensen-Shannon distance (base 2, 0 to 1) between the
    segment shares. `far_*` is the share of customers farther from their segment centre than
    99% of the training customers were (1% expected). Override e.g. `CCSEG_DRIFT_FEATURE_DRIFT=0.3`.
    """

    model_config = SettingsConfigDict(env_prefix="CCSEG_DRIFT_", extra="ignore", frozen=True)

    feature_warn: float = Field(0.1, gt=0, description="Feature score that warns.")
    feature_drift: float = Field(0.2, gt=0, description="Feature score that means drift.")
    shares_warn: float = Field(0.1, gt=0, le=1, description="Segment-share distance that warns.")
    shares_drift: float = Field(0.2, gt=0, le=1, description="Segment-share distance: drift.")
    far_warn: float = Field(0.03, gt=0, le=1, description="Far-from-centre share that warns.")
    far_drift: float = Field(0.10, gt=0, le=1, description="Far-from-centre share: drift.")
    min_rows: int = Field(
        50, ge=1, description="Smaller batches are not judged (verdict none, checked false)."
    )

    @model_validator(mode="after")
    def _warn_below_drift(self) -> DriftSettings:
        for measure in ("feature", "shares", "far"):
            warn, drift = getattr(self, f"{measure}_warn"), getattr(self, f"{measure}_drift")
            if warn > drift:
                name = f"CCSEG_DRIFT_{measure.upper()}"
                raise ValueError(f"{name}_WARN ({warn}) must not exceed {name}_DRIFT ({drift})")
        return self


class AlertSettings(BaseSettings):
    """Where failure and drift notifications go (a Prefect webhook block, see `ccseg alerts`)."""

    model_config = SettingsConfigDict(env_prefix="CCSEG_ALERT_", extra="ignore", frozen=True)

    webhook_url: str | None = Field(
        None,
        description='URL that receives a JSON POST {"text": ...} per alert (a Slack incoming '
        "webhook accepts it as is). Unset: no alerts are set up.",
    )


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
    # Read with the pipeline's settings, so a malformed value stops the run before any work.
    economics: EconomicsSettings = Field(default_factory=EconomicsSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    event_grid: str | None = Field(
        None,
        description="Grid of event-driven segmentation runs (on-new-data, retrain-on-drift): "
        "JSON text or @path/to/grid.json. Unset: the default grid, as `ccseg run`.",
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    lock_wait_seconds: float = Field(
        0.0,
        ge=0,
        description="How long a run waits for another run on the same working folder before "
        "refusing (0: refuse at once).",
    )
    keep_runs: int = Field(
        3, ge=1, description="Completed runs kept in the working folder (the current one too)."
    )
    dask_address: str | None = Field(
        None,
        description="Dask scheduler (tcp://host:8786) the grid runs on; unset: 2 threads. "
        "`ccseg run --dask-address` overrides it.",
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
    def artifact_location(self) -> str | None:
        """Local folder for a local store; None for an `mlflow server`, which proxies artifacts.

        An explicit local location on a server-created experiment would have every client
        write models to its own disk (see docs/operations.md, MLflow server).
        """
        if self.tracking_uri.lower().startswith(("http://", "https://")):
            return None
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


def _where(loc: tuple) -> str:
    """The setting an error is about, as the user sets it (an economics field by its variable)."""
    name = str(loc[-1]) if loc else ""
    if name in EconomicsSettings.model_fields:
        return f"CCSEG_ECONOMICS_{name.upper()}"
    if name in DriftSettings.model_fields:
        return f"CCSEG_DRIFT_{name.upper()}"
    if name in AlertSettings.model_fields:
        return f"CCSEG_ALERT_{name.upper()}"
    if name == "mlflow_tracking_uri":
        return "MLFLOW_TRACKING_URI"
    return f"CCSEG_{name.upper()}" if name in PipelineSettings.model_fields else name or "settings"


def load_settings(**overrides: object) -> PipelineSettings:
    """Settings from the environment; a malformed value becomes one actionable ParameterError."""
    try:
        return PipelineSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise ParameterError(f"invalid CCSEG_ setting: {problems}") from None


def _problem(error: dict) -> str:
    """One validation error in the user's terms: the variable, then what is wrong with it."""
    # A whole-object check (low above high) already names its variables in its message.
    message = str(error["msg"]).removeprefix("Value error, ")
    return message if not error["loc"] else f"{_where(error['loc'])}: {message}"


def require_existing_store(settings: PipelineSettings) -> None:
    """Commands that read a model (score) must find the store a run wrote, never make one."""
    database = settings.sqlite_store_path
    if database is not None and not database.is_file():
        raise ParameterError(
            f"no MLflow store at {database}: models live in the store of the working folder "
            "`ccseg run` used; run from that folder, or set CCSEG_WORK_DIR (or "
            "MLFLOW_TRACKING_URI) to it"
        )
