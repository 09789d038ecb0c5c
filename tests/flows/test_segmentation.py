"""The segmentation and scoring flows against a real Prefect API and a real MLflow sqlite store."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.metrics import adjusted_rand_score

from ccseg.cli import main
from core.settings import PipelineSettings
from tasks.data.synthetic import SEGMENTS, write_synthetic
from tasks.segmentation.grid import GridSpec, parse_grid_spec
from tasks.segmentation.metrics import METRIC_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

ROWS = 3_000
PLANTED_K = len(SEGMENTS)


def small_grid(ks: list[int], feature_set: str = "log_scaled") -> GridSpec:
    """A few k-means cells: enough to exercise the grid, small enough for a test."""
    return parse_grid_spec(
        {
            "feature_sets": [feature_set],
            "algorithms": [{"name": "kmeans", "ks": ks}],
            "seeds": [0],
            "stability_resamples": 10,
            "silhouette_sample_size": 2_000,
            "finalists": {"count": 2, "seeds": 2, "resamples": 50, "n_init": 4},
        }
    )


def run_flow(work_dir: Path, data: Path, grid: GridSpec):
    from flows.segmentation import segmentation

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CCSEG_WORK_DIR", str(work_dir))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        return segmentation(data_path=data, grid=grid), PipelineSettings()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("segmentation")


@pytest.fixture(scope="module")
def synthetic_file(workspace: Path) -> tuple[Path, Path]:
    data, labels = workspace / "synthetic.csv", workspace / "synthetic.labels.csv"
    write_synthetic(ROWS, 7, data, labels)
    return data, labels


@pytest.fixture(scope="module")
def first_run(workspace: Path, synthetic_file: tuple[Path, Path]):
    """One flow run shared by the read-only assertions below (fitting is the slow part)."""
    grid = small_grid([3, PLANTED_K, PLANTED_K + 2])
    summary, settings = run_flow(workspace, synthetic_file[0], grid)
    return summary, grid, settings


def child_runs(settings: PipelineSettings, parent_run_id: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(settings.tracking_uri)
    return mlflow.search_runs(
        experiment_names=[settings.experiment_name],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
    )


def test_each_grid_cell_is_one_child_run_with_every_metric(first_run) -> None:
    summary, grid, settings = first_run
    runs = child_runs(settings, summary.parent_run_id)
    assert sorted(runs["tags.grid_cell"]) == sorted(cell.cell_id for cell in grid.cells())
    for name in set(METRIC_NAMES) - {"bic"}:  # BIC is defined for mixtures only
        assert runs[f"metrics.{name}"].notna().all(), name
    assert (runs["params.algorithm"] == "kmeans").all()


def test_only_the_chosen_cell_logs_a_model_and_it_is_the_registered_one(first_run) -> None:
    summary, _, settings = first_run
    client = MlflowClient(settings.tracking_uri)
    runs = child_runs(settings, summary.parent_run_id)
    experiment = client.get_experiment_by_name(settings.experiment_name)
    models = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    chosen_run = runs.loc[runs["tags.grid_cell"] == summary.chosen_cell_id, "run_id"].item()
    assert [m.source_run_id for m in models] == [chosen_run]
    version = client.get_model_version(settings.registered_model_name, summary.promotion.version)
    assert version.source == f"models:/{models[0].model_id}"


def test_parent_run_records_data_hash_flow_run_and_reasoning(first_run) -> None:
    summary, _, settings = first_run
    parent = MlflowClient(settings.tracking_uri).get_run(summary.parent_run_id)
    assert len(parent.data.tags["data.sha256"]) == 64
    assert parent.data.tags["prefect.flow_run_id"] != "none"
    assert parent.data.tags["chosen_cell"] == summary.chosen_cell_id
    assert parent.data.metrics["rows_in"] == ROWS
    reasoning = mlflow.artifacts.load_text(f"runs:/{summary.parent_run_id}/selection/reasoning.md")
    assert summary.chosen_cell_id in reasoning
    analysis = json.loads(
        mlflow.artifacts.load_text(f"runs:/{summary.parent_run_id}/report/analysis.json")
    )
    finalists = {f["cell_id"]: f for f in analysis["finalists"]}
    assert summary.chosen_cell_id in finalists and len(finalists) <= 2
    assert finalists[summary.chosen_cell_id]["resamples"] == 50
    assert f"over 50 resamples) {analysis['quantities']['model.stability']}" in reasoning


def test_report_figures_are_the_ones_logged_to_mlflow(first_run, tmp_path: Path) -> None:
    summary, _, settings = first_run
    html = summary.report_path.read_text(encoding="utf-8")
    embedded = sorted(
        base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    )
    mlflow.set_tracking_uri(settings.tracking_uri)
    logged_dir = Path(
        mlflow.artifacts.download_artifacts(
            run_id=summary.parent_run_id, artifact_path="report/figures", dst_path=str(tmp_path)
        )
    )
    logged = sorted(path.read_bytes() for path in logged_dir.glob("*.png"))
    assert {"metrics_vs_k.png", "silhouette.png"} <= {p.name for p in logged_dir.glob("*.png")}
    assert len(embedded) >= 5
    assert embedded == logged


def test_planted_segments_are_recovered(first_run, synthetic_file) -> None:
    summary, _, _ = first_run
    found = pd.read_csv(summary.segments_path)
    planted = pd.read_csv(synthetic_file[1]).rename(columns={"segment": "planted"})
    merged = found.merge(planted, on="CUST_ID", validate="one_to_one")
    assert len(merged) == ROWS
    assert adjusted_rand_score(merged["planted"], merged["segment"]) >= 0.9


def test_first_model_becomes_champion_and_report_is_written(first_run) -> None:
    summary, _, settings = first_run
    champion = MlflowClient(settings.tracking_uri).get_model_version_by_alias(
        settings.registered_model_name, "champion"
    )
    assert summary.promotion.alias == "champion"
    assert champion.version == summary.promotion.version
    assert summary.report_path is not None and summary.report_path.is_file()


def test_scoring_with_champion_reproduces_training_assignments(
    first_run, synthetic_file, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.scoring import scoring

    summary, _, _ = first_run
    monkeypatch.setenv("CCSEG_WORK_DIR", str(workspace))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    scored = scoring(data_path=synthetic_file[0], output_path=workspace / "scored.csv")
    assert scored.rows_scored == ROWS
    trained = pd.read_csv(summary.segments_path)
    rescored = pd.read_csv(scored.output_path)
    pd.testing.assert_frame_equal(trained, rescored)
    assert rescored["distance"].notna().all()
    assert "probability" not in rescored  # k-means gives distances, not probabilities


def test_rerun_on_same_data_keeps_the_champion(first_run, workspace, synthetic_file) -> None:
    summary, grid, settings = first_run
    again, _ = run_flow(workspace, synthetic_file[0], grid)
    assert again.chosen_cell_id == summary.chosen_cell_id
    assert again.promotion.version is None
    champion = MlflowClient(settings.tracking_uri).get_model_version_by_alias(
        settings.registered_model_name, "champion"
    )
    assert champion.version == summary.promotion.version


def test_better_model_replaces_the_champion(synthetic_file, tmp_path: Path) -> None:
    # Two segments over five planted ones fails the rule's eligibility; five passes it.
    worse, settings = run_flow(tmp_path, synthetic_file[0], small_grid([2]))
    better, _ = run_flow(tmp_path, synthetic_file[0], small_grid([PLANTED_K]))
    assert (worse.promotion.alias, better.promotion.alias) == ("champion", "champion")
    assert better.promotion.previous_champion_version == worse.promotion.version
    champion = MlflowClient(settings.tracking_uri).get_model_version_by_alias(
        settings.registered_model_name, "champion"
    )
    assert champion.version == better.promotion.version != worse.promotion.version


def test_worse_model_never_replaces_the_champion(first_run, workspace, synthetic_file) -> None:
    summary, _, settings = first_run
    # Two segments over five planted ones: fails the selection rule's eligibility outright.
    worse, _ = run_flow(workspace, synthetic_file[0], small_grid([2]))
    assert worse.promotion.alias == "challenger"
    client = MlflowClient(settings.tracking_uri)
    name = settings.registered_model_name
    assert client.get_model_version_by_alias(name, "champion").version == summary.promotion.version
    assert client.get_model_version_by_alias(name, "challenger").version == worse.promotion.version


def test_run_with_quarantined_rows_completes_and_records_counts(tmp_path: Path) -> None:
    data = tmp_path / "with_bad_rows.csv"
    write_synthetic(1_000, 3, data)
    lines = data.read_text().splitlines()
    header = lines[0].split(",")
    bad = lines[1].split(",")
    bad[header.index("BALANCE")] = "lots"
    bad[0] = "X0000001"  # new ids: a reused id would quarantine the original row too
    negative = lines[2].split(",")
    negative[header.index("PAYMENTS")] = "-5"
    negative[0] = "X0000002"
    data.write_text("\n".join([*lines, ",".join(bad), ",".join(negative)]) + "\n")

    summary, settings = run_flow(tmp_path, data, small_grid([3, 4]))
    assert (summary.rows_in, summary.rows_clean, summary.rows_quarantined) == (1_002, 1_000, 2)
    parent = MlflowClient(settings.tracking_uri).get_run(summary.parent_run_id)
    assert parent.data.metrics["rows_quarantined"] == 2
    quarantine = pd.read_csv(tmp_path / "outputs" / "validation" / "quarantine.csv")
    assert sorted(quarantine["reasons"]) == ["negative_value:PAYMENTS", "not_a_number:BALANCE"]


# Each spec is valid but for the one fault its id names; the error must name the culprit.
BAD_GRIDS = {
    "k below two": (
        {"feature_sets": ["log_scaled"], "algorithms": [{"name": "kmeans", "ks": [1]}]},
        "every k must be >= 2, got [1]",
    ),
    "unknown algorithm": (
        {"feature_sets": ["log_scaled"], "algorithms": [{"name": "magic", "ks": [3]}]},
        "magic",
    ),
    "empty grid": ({"feature_sets": ["log_scaled"], "algorithms": []}, "algorithms is empty"),
    "unknown feature set": (
        {"feature_sets": ["vibes"], "algorithms": [{"name": "kmeans", "ks": [3]}]},
        "vibes",
    ),
    "not json": ("{kmeans", "grid spec is not valid JSON"),
}


@pytest.mark.parametrize(("grid", "culprit"), BAD_GRIDS.values(), ids=BAD_GRIDS.keys())
def test_bad_grid_spec_fails_before_any_work(
    grid, culprit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("CCSEG_WORK_DIR", str(tmp_path))
    text = grid if isinstance(grid, str) else json.dumps(grid)
    assert main(["run", "--grid", text]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ccseg: error:")
    assert culprit in err[0]
    assert list(tmp_path.iterdir()) == []  # no store, no outputs: nothing ran


def test_cells_asking_for_more_segments_than_customers_are_skipped_not_fatal(
    tmp_path: Path,
) -> None:
    data = write_synthetic(60, 4, tmp_path / "small.csv")

    summary, settings = run_flow(tmp_path, data, small_grid([3, 80]))

    assert summary.chosen_cell_id == "log_scaled|kmeans|k=3|seed=0"
    runs = child_runs(settings, summary.parent_run_id)
    assert list(runs["tags.grid_cell"]) == ["log_scaled|kmeans|k=3|seed=0"]


def test_a_typo_in_the_data_path_fails_the_flow_and_generates_nothing(tmp_path: Path) -> None:
    from core.errors import FileLevelError

    with pytest.raises(FileLevelError, match="--data file not found"):
        run_flow(tmp_path, tmp_path / "typo.csv", small_grid([3]))

    assert list(tmp_path.iterdir()) == []


def test_without_any_data_a_synthetic_run_stays_apart_from_real_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.segmentation import segmentation

    monkeypatch.setattr("tasks.data.source.DEFAULT_DATA_PATH", tmp_path / "absent.csv")
    monkeypatch.setenv("CCSEG_WORK_DIR", str(tmp_path))
    monkeypatch.delenv("CCSEG_DATA_PATH", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    summary = segmentation(grid=small_grid([3, 4]), synthetic_rows=600)

    assert summary.is_synthetic
    assert summary.work_dir == tmp_path / "synthetic"
    assert summary.segments_path == tmp_path / "synthetic" / "outputs" / "segments.csv"
    assert summary.promotion.model_name == "cc-segmentation-synthetic"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]  # nothing beside real runs
    client = MlflowClient(summary.tracking_uri)
    parent = client.get_run(summary.parent_run_id)
    assert parent.data.tags["data.synthetic"] == "true"
    assert client.get_experiment(parent.info.experiment_id).name == "cc-segmentation-synthetic"
