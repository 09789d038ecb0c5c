"""A failure at any step after fitting leaves the registry with a usable champion.

Each case breaks one step of a run that would replace the champion (register, move the alias,
load the new version back, name the segments, build the report, write the outputs), then checks
the champion still loads and names its segments, `ccseg score` works, and the next run
completes. The flow, Prefect, MLflow and the registry are real; only the broken step is patched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from prefect import task

from ccseg.cli import main
from core.settings import PipelineSettings
from tasks.data.synthetic import SEGMENTS, write_synthetic
from tasks.segmentation.grid import GridSpec, parse_grid_spec

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

ROWS = 600


class InjectedFailure(RuntimeError):
    """The fault a test puts into one step."""


def _boom(*args: object, **kwargs: object) -> None:
    raise InjectedFailure("injected")


@task(name="verify-registered-model")
def _failing_verification(*args: object, **kwargs: object) -> None:
    raise InjectedFailure("the new version does not load")


# step -> (what to patch, replacement); each is the first call of that step that has an effect.
INJECTIONS: dict[str, tuple[str, Callable[..., object]]] = {
    "names": ("tasks.profiling.segment_description.name_segments", _boom),
    "register": ("mlflow.register_model", _boom),
    "alias": ("mlflow.MlflowClient.set_registered_model_alias", _boom),
    "load back": ("flows.segmentation.verify_registered_model", _failing_verification),
    "report": ("tasks.report.publish.build_report", _boom),
    "outputs": ("tasks.report.publish.write_table", _boom),
}
# Steps after which the new version is complete and may stay champion.
AFTER_PROMOTION = {"report", "outputs"}


def grid(k: int) -> GridSpec:
    return parse_grid_spec(
        {
            "feature_sets": ["log_scaled"],
            "algorithms": [{"name": "kmeans", "ks": [k]}],
            "stability_resamples": 10,
            "silhouette_sample_size": 500,
        }
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A store whose champion (k = 2, ineligible under the rule) any k = 5 run replaces."""
    work_dir = tmp_path_factory.mktemp("promotion-failures")
    data = work_dir / "batch.csv"
    write_synthetic(ROWS, 5, data)
    first = run(work_dir, data, grid(2))
    assert first.promotion.alias == "champion"
    return {"work_dir": work_dir, "data": data, "weak_version": first.promotion.version}


def run(work_dir: Path, data: Path, spec: GridSpec):
    from flows.segmentation import segmentation

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CCSEG_WORK_DIR", str(work_dir))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        return segmentation(data_path=data, grid=spec)


def registry(work_dir: Path) -> tuple[MlflowClient, str]:
    settings = PipelineSettings(work_dir=work_dir)
    mlflow.set_tracking_uri(settings.tracking_uri)
    return MlflowClient(settings.tracking_uri), settings.registered_model_name


@pytest.mark.parametrize("step", list(INJECTIONS))
def test_a_failure_after_fitting_leaves_a_usable_champion(
    step: str, store: dict[str, object], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    work_dir, data = store["work_dir"], store["data"]
    client, name = registry(work_dir)
    # Every case starts from the weak champion, so the run under test would replace it.
    client.set_registered_model_alias(name, "champion", store["weak_version"])
    versions_before = {v.version for v in client.search_model_versions(f"name = '{name}'")}

    with monkeypatch.context() as patch:
        patch.setattr(*INJECTIONS[step])
        with pytest.raises(InjectedFailure):
            run(work_dir, data, grid(len(SEGMENTS)))

    client, name = registry(work_dir)
    champion = client.get_model_version_by_alias(name, "champion")
    versions_after = {v.version for v in client.search_model_versions(f"name = '{name}'")}
    if step in AFTER_PROMOTION:
        assert champion.version not in versions_before  # the new, complete version
    else:
        assert champion.version == store["weak_version"]
        assert versions_after == versions_before  # the half-registered version was rolled back
    scored = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(
        pd.read_csv(data).head(20)
    )
    assert not scored["segment_name"].str.startswith("Segment ").any()

    with monkeypatch.context() as patch:
        patch.setenv("CCSEG_WORK_DIR", str(work_dir))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        assert main(["score", "--data", str(data), "--out", str(tmp_path / "scored.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "scored.csv")) == ROWS

    completed = run(work_dir, data, grid(len(SEGMENTS)))
    assert completed.segments_path.is_file()
    champion = registry(work_dir)[0].get_model_version_by_alias(name, "champion")
    assert champion.tags["grid_cell"] == completed.chosen_cell_id
