"""`ccseg score`: the training contract (quarantine), then the champion through mlflow.pyfunc."""

from __future__ import annotations

import io
import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from ccseg.cli import main
from core.settings import PipelineSettings
from tasks.data.synthetic import generate_synthetic, write_synthetic
from tasks.drift.publish import VERDICT_LABEL
from tasks.mlops.model_logging import log_segment_model
from tasks.mlops.tracking import configure_tracking
from tasks.model.segment_model import SegmentModel
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import GridCell
from tasks.segmentation.packaging import package_model

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

NAMES = {0: "First", 1: "Second", 2: "Third"}
GOOD_ROWS = 30


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SegmentModel]:
    """A work folder whose store has a champion, registered without running the whole flow."""
    work_dir = tmp_path_factory.mktemp("scoring")
    settings = PipelineSettings(work_dir=work_dir, mlflow_tracking_uri=None)
    clean, _ = generate_synthetic(300, 2)
    cell = GridCell("log_scaled", "kmeans", 3, 0, (("max_iter", 300), ("n_init", 4)))
    result = fit_cell(cell, clean, stability_resamples=10, silhouette_sample_size=300)
    model = package_model(result, clean, NAMES, {str(k): {"name": v} for k, v in NAMES.items()})
    experiment = configure_tracking(
        settings.tracking_uri, settings.experiment_name, settings.artifact_location
    )
    client = MlflowClient(settings.tracking_uri)
    run = client.create_run(experiment)
    model_uri = log_segment_model.fn(model, settings.tracking_uri, run.info.run_id)
    version = mlflow.register_model(model_uri, settings.registered_model_name).version
    client.set_registered_model_alias(settings.registered_model_name, "champion", version)
    return work_dir, model


@pytest.fixture
def in_work_dir(champion, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CCSEG_WORK_DIR", str(champion[0]))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return champion[0]


def batch_with_bad_rows(path: Path) -> Path:
    """GOOD_ROWS synthetic customers, then one with text for a balance, one with tenure 0."""
    write_synthetic(GOOD_ROWS, 9, path)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    text_balance, zero_tenure = lines[1].split(","), lines[2].split(",")
    text_balance[0], text_balance[header.index("BALANCE")] = "X1", "lots"
    zero_tenure[0], zero_tenure[header.index("TENURE")] = "X2", "0"
    path.write_text("\n".join([*lines, ",".join(text_balance), ",".join(zero_tenure)]) + "\n")
    return path


def test_rows_that_break_the_contract_are_quarantined_and_the_rest_scored_with_names(
    champion, in_work_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, model = champion
    data = batch_with_bad_rows(tmp_path / "batch.csv")
    out = tmp_path / "scored" / "segments.csv"

    assert main(["score", "--data", str(data), "--out", str(out)]) == 0

    scored = pd.read_csv(out)
    expected = model.predict(pd.read_csv(io.StringIO(data.read_text())).head(GOOD_ROWS))
    pd.testing.assert_frame_equal(scored, expected.astype({"CUST_ID": object}))
    assert set(scored["segment_name"]) <= set(NAMES.values())
    quarantine = pd.read_csv(tmp_path / "scored" / "segments_validation" / "quarantine.csv")
    assert sorted(quarantine["reasons"]) == ["not_a_number:BALANCE", "tenure_out_of_range:TENURE"]
    assert (
        capsys.readouterr()
        .out.splitlines()[-2]
        .startswith(
            f"{GOOD_ROWS} customers scored with models:/cc-segmentation@champion -> {out} "
            "(2 quarantined)"
        )
    )


def test_a_batch_with_every_row_quarantined_keeps_the_rows_and_ends_in_one_line(
    in_work_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "all_bad.csv"
    generate_synthetic(3, 1)[0].assign(TENURE=0).to_csv(data, index=False)
    out = tmp_path / "segments.csv"

    code = main(["score", "--data", str(data), "--out", str(out)])

    err = capsys.readouterr().err.splitlines()
    quarantine = pd.read_csv(tmp_path / "segments_validation" / "quarantine.csv")
    assert code == 2
    assert len(err) == 1
    assert "all 3 rows were quarantined (tenure_out_of_range 3)" in err[0]
    assert str(tmp_path / "segments_validation" / "quarantine.csv") in err[0]
    assert len(quarantine) == 3
    assert not out.exists()


def test_a_model_that_does_not_exist_is_one_line_and_exit_2(
    in_work_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "batch.csv"
    write_synthetic(5, 1, data)

    out = tmp_path / "o.csv"
    code = main(["score", "--data", str(data), "--out", str(out), "--model-uri", "models:/nope@x"])

    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0] == (
        "ccseg: error: --model-uri models:/nope@x: Registered Model with name=nope not found"
    )
    assert not out.exists()


def test_a_drifted_batch_is_still_scored_and_its_verdict_written_beside_the_output(
    in_work_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "drifted.csv"
    clean = generate_synthetic(300, 2)[0]
    clean.assign(BALANCE=clean["BALANCE"] * 1.6).to_csv(data, index=False)
    out = tmp_path / "drifted_segments.csv"

    assert main(["score", "--data", str(data), "--out", str(out)]) == 0

    report = json.loads((tmp_path / "drifted_segments.drift.json").read_text())
    assert len(pd.read_csv(out)) == 300
    assert report["verdict"] == "drift"
    assert report["features"]["BALANCE"]["status"] == "drift"
    assert report["path"] == str(data.resolve())
    assert set(report["segment_shares"]["segments"]) <= {"0", "1", "2"}
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("drift verdict: drift on 300 rows; drifted: BALANCE (BALANCE moved")
    assert last.endswith(f"-> {tmp_path / 'drifted_segments.drift.json'}")
    client = MlflowClient(f"sqlite:///{in_work_dir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cc-segmentation-scoring")
    (run,) = client.search_runs([experiment.experiment_id], f"params.data_path = '{data}'")
    assert run.data.tags[VERDICT_LABEL] == "drift"
    assert run.data.metrics["drift.verdict_level"] == 2.0
    assert run.data.metrics["drift.feature.BALANCE"] > 0.2
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "drift")}
    assert artifacts == {"drift/drift.json", "drift/drift.png"}


def test_the_training_rows_themselves_score_with_verdict_none(
    in_work_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "same.csv"
    generate_synthetic(300, 2)[0].to_csv(data, index=False)
    out = tmp_path / "same_segments.csv"

    assert main(["score", "--data", str(data), "--out", str(out)]) == 0

    report = json.loads((tmp_path / "same_segments.drift.json").read_text())
    assert (report["verdict"], report["checked"], report["reasons"]) == ("none", True, [])
