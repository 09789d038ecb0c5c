"""Preflight: everything a command can check before Prefect starts or anything is written.

One function per command. Each reads (files' kinds and heads, folders' writability, the
environment's settings, whether a service answers) and raises a `CcsegError` naming the flag or
setting to fix; none creates a file. The flows repeat the checks that guard their own inputs,
because deployments call them without this CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import ParameterError
from core.paths import require_writable_dir, require_writable_file
from core.settings import PipelineSettings, load_settings, require_existing_store
from tasks.data.ingest import check_file_head
from tasks.data.source import SourceChoice, choose_source
from tasks.segmentation.grid import GridSpec, expand_grid, parse_grid_spec
from tasks.workdir.runs import check_data_kind, check_work_dir_layout

CHAMPION = "champion"


@dataclass(frozen=True)
class RunPlan:
    """What `ccseg run` will do, decided and checked before Prefect starts."""

    settings: PipelineSettings  # as the run uses them (synthetic data: its own folder and names)
    choice: SourceChoice
    grid: GridSpec | None
    dask_address: str | None = None  # the grid's Dask scheduler (None: Prefect's thread pool)


def grid_from(text: str | None) -> GridSpec | None:
    """`--grid` takes JSON text or @path-to-json; a bad spec fails here."""
    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ParameterError(f"--grid file not found: {path}")
        text = path.read_text()
    spec = parse_grid_spec(text)
    expand_grid(spec)
    return spec


def _work_dir_name(settings: PipelineSettings, flag_given: bool) -> str:
    if flag_given:
        return "--work-dir"
    return "CCSEG_WORK_DIR" if "work_dir" in settings.model_fields_set else "working folder"


def _check_work_dir(settings: PipelineSettings, what: str) -> None:
    require_writable_dir(settings.work_dir, what)
    check_work_dir_layout(settings.work_dir)


def preflight_run(
    data: Path | None,
    grid_text: str | None,
    work_dir: Path | None,
    synthetic_rows: int,
    dask_address: str | None,
) -> RunPlan:
    """The data source, working folder, store and Dask scheduler of `ccseg run`."""
    from ccseg.services import check_dask_address, check_tracking_uri

    spec = grid_from(grid_text)
    settings = load_settings(**({"work_dir": work_dir} if work_dir is not None else {}))
    what = _work_dir_name(settings, work_dir is not None)
    _check_work_dir(settings, what)
    choice = choose_source(data, settings, synthetic_rows, rows_name="--synthetic-rows")
    if choice.path is not None:
        check_file_head(choice.path, f"{choice.what} file")
    else:
        settings = settings.for_synthetic_data()
        _check_work_dir(settings, f"synthetic runs' folder inside the {what}")
    check_data_kind(settings.work_dir, choice.is_synthetic)
    check_tracking_uri(settings.tracking_uri, settings.sqlite_store_path)
    dask_address = dask_address or settings.dask_address  # the flag, else CCSEG_DASK_ADDRESS
    if dask_address is not None:
        check_dask_address(dask_address)
    return RunPlan(settings, choice, spec, dask_address)


def preflight_validate(path: Path, out: Path) -> None:
    check_file_head(path, "file")
    require_writable_dir(out, "--out")


def preflight_synth(rows: int, seed: int, out: Path, labels: Path | None) -> None:
    from tasks.data.synthetic import check_synthetic_size

    check_synthetic_size(rows, seed, rows_name="--rows", seed_name="--seed")
    require_writable_file(out, "--out")
    if labels is not None:
        require_writable_file(labels, "--labels")
        if labels.resolve() == out.resolve():
            raise ParameterError(f"--labels and --out are the same file: {out}")


def _registered_model(model_uri: str) -> tuple[str, str | None, str | None] | None:
    """(name, alias, version) of a `models:/name@alias` or `models:/name/version` URI."""
    if not model_uri.startswith("models:/"):
        return None
    rest = model_uri.removeprefix("models:/").strip("/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, alias, None
    name, _, version = rest.partition("/")
    return name, None, version or None


def _check_model(settings: PipelineSettings, model_uri: str, given: bool) -> None:
    """The model resolves in the store, without loading it (the flow does that)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(settings.tracking_uri)
    registered = _registered_model(model_uri)
    try:
        if registered is None:
            mlflow.models.get_model_info(model_uri)
        elif registered[1] is not None:
            client.get_model_version_by_alias(registered[0], registered[1])
        elif registered[2] is not None:
            client.get_model_version(registered[0], registered[2])
        else:
            raise ParameterError(f"--model-uri {model_uri}: name an alias or a version")
    except (MlflowException, OSError) as exc:
        problem = (getattr(exc, "message", None) or str(exc)).splitlines()[0]
        if given:
            raise ParameterError(f"--model-uri {model_uri}: {problem}") from None
        synthetic = settings.for_synthetic_data()
        hint = ""
        if synthetic.sqlite_store_path is not None and synthetic.sqlite_store_path.is_file():
            hint = (
                f" (synthetic-data runs keep theirs in {synthetic.work_dir}: "
                f"CCSEG_WORK_DIR={synthetic.work_dir} ccseg score --model-uri "
                f"models:/{synthetic.registered_model_name}@{CHAMPION} ...)"
            )
        raise ParameterError(
            f"no champion model {model_uri} in {settings.tracking_uri}: run `ccseg run` in this "
            f"working folder first, or point CCSEG_WORK_DIR (or MLFLOW_TRACKING_URI) at the "
            f"one the run used{hint}"
        ) from None


def preflight_score(data: Path, out: Path, model_uri: str | None) -> str:
    """The batch, the three output paths, the store and the model; returns the model URI."""
    from ccseg.services import check_tracking_uri
    from flows.scoring import ScoringOutputs

    settings = load_settings()
    check_file_head(data, "--data file")
    ScoringOutputs.for_path(out).check()
    check_tracking_uri(settings.tracking_uri, settings.sqlite_store_path)
    require_existing_store(settings)
    uri = model_uri or f"models:/{settings.registered_model_name}@{CHAMPION}"
    _check_model(settings, uri, given=model_uri is not None)
    return uri


def preflight_watch(
    landing: Path, pattern: str, state_file: Path | None, settle_seconds: float
) -> None:
    from ccseg.services import check_prefect_api
    from flows.data_watch import require_event_api
    from tasks.data.landing import (
        STATE_FILE_NAME,
        require_landing_dir,
        require_pattern,
        require_state_file,
    )

    folder = require_landing_dir(landing)
    require_pattern(pattern)
    require_state_file(state_file if state_file is not None else folder / STATE_FILE_NAME)
    if settle_seconds < 0:
        raise ParameterError(f"--settle-seconds must be 0 or more, got {settle_seconds:g}")
    check_prefect_api(require_event_api())


def preflight_notify(path: Path) -> None:
    from ccseg.services import check_prefect_api
    from core.paths import require_input_file
    from flows.data_watch import require_event_api

    require_input_file(path, "file")
    check_prefect_api(require_event_api())
