"""The champion as a newcomer meets it: MLflow's API and `mlflow models serve`, on the real file.

One flow run on the real data (the cell the full grid chooses, alone, to stay fast) registers the
champion; then a fresh virtualenv holding only the model's own requirements loads and scores the
real file, and a model server started here answers JSON records, including a customer with no
credit limit. Both must give exactly the flow's `outputs/segments.csv`.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest

from core.settings import PipelineSettings
from tasks.mlops.model_logging import MODEL_REQUIREMENTS
from tasks.segmentation.grid import parse_grid_spec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.realdata,
    pytest.mark.usefixtures("prefect_api"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
CHOSEN_CELL = "behavioural_pca|kmeans|k=4|seed=0"
CHAMPION_URI = "models:/cc-segmentation@champion"
SUBPROCESS_TIMEOUT_SECONDS = 600
SERVER_START_SECONDS = 240
KEYS = ["CUST_ID", "segment", "segment_name"]


@pytest.fixture(scope="module")
def real_run(real_data_path: Path, tmp_path_factory: pytest.TempPathFactory):
    from flows.segmentation import segmentation

    work_dir = tmp_path_factory.mktemp("real-champion")
    spec = parse_grid_spec(
        {"feature_sets": ["behavioural_pca"], "algorithms": [{"name": "kmeans", "ks": [4]}]}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CCSEG_WORK_DIR", str(work_dir))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        summary = segmentation(data_path=real_data_path, grid=spec)
    assert summary.chosen_cell_id == CHOSEN_CELL
    settings = PipelineSettings(work_dir=work_dir)
    return summary, settings, pd.read_csv(summary.segments_path)


def clean_env(tracking_uri: str, bin_dir: Path | None = None) -> dict[str, str]:
    """The caller's environment minus anything that would leak this project into a child;
    `bin_dir` first on PATH, as in an activated virtualenv (the server starts `uvicorn`)."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env | {"MLFLOW_TRACKING_URI": tracking_uri}


def assert_same_assignments(answered: pd.DataFrame, expected: pd.DataFrame) -> None:
    answered = answered.astype({"CUST_ID": str}).reset_index(drop=True)
    expected = expected.astype({"CUST_ID": str}).reset_index(drop=True)
    pd.testing.assert_frame_equal(answered[KEYS], expected[KEYS], check_dtype=False)
    assert np.allclose(answered["distance"], expected["distance"], rtol=1e-9)
    assert expected["segment_name"].nunique() == 4


def build_venv(requirements: Path, venv: Path) -> Path:
    """A virtualenv with exactly `requirements` (uv: from its cache when it can)."""
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        [str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)],
        check=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    install = [str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    offline = subprocess.run(
        [*install, "--offline", "-r", str(requirements)],
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        check=False,
    )
    if offline.returncode != 0:  # not everything cached: the package index fills the gaps
        subprocess.run(
            [*install, "-r", str(requirements)], check=True, timeout=SUBPROCESS_TIMEOUT_SECONDS
        )
    return venv / "bin" / "python"


SCORE_IN_FRESH_ENV = """
import importlib.util, json, sys
import mlflow.pyfunc, pandas as pd
answer = mlflow.pyfunc.load_model(sys.argv[1]).predict(pd.read_csv(sys.argv[2]))
answer.to_csv(sys.argv[3], index=False)
import tasks.model.segment_model as shipped
print(json.dumps({
    "module": shipped.__file__,
    "project_packages": [m for m in ("prefect", "pandera", "schemas", "core", "flows")
                         if importlib.util.find_spec(m) is not None],
}))
"""


def test_a_fresh_env_with_only_the_models_requirements_scores_the_real_file_like_the_flow(
    real_run, real_data_path: Path, tmp_path: Path
) -> None:
    _, settings, expected = real_run
    mlflow.set_tracking_uri(settings.tracking_uri)
    model_dir = Path(mlflow.artifacts.download_artifacts(CHAMPION_URI, dst_path=str(tmp_path)))
    requirements = model_dir / "requirements.txt"
    names = [line.split("==")[0] for line in requirements.read_text().split()]
    assert sorted(names) == sorted(MODEL_REQUIREMENTS)
    python = build_venv(requirements, tmp_path / "venv")
    answer_path = tmp_path / "answer.csv"

    finished = subprocess.run(
        [
            str(python),
            "-I",
            "-c",
            SCORE_IN_FRESH_ENV,
            CHAMPION_URI,
            str(real_data_path),
            str(answer_path),
        ],
        cwd=tmp_path,
        env=clean_env(settings.tracking_uri),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    seen = json.loads(finished.stdout.strip().splitlines()[-1])
    assert seen["project_packages"] == []
    assert not seen["module"].startswith(str(REPO_ROOT))
    assert seen["module"].endswith("code/tasks/model/segment_model.py")
    assert_same_assignments(pd.read_csv(answer_path), expected)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def model_server(real_run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow models serve` on the champion, on 127.0.0.1 and a free port; always stopped."""
    _, settings, _ = real_run
    tmp_path = tmp_path_factory.mktemp("model-server")
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            *(str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m", CHAMPION_URI),
            *("--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)),
        ],
        env=clean_env(settings.tracking_uri, Path(sys.executable).parent),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers share the group, so one signal stops them all
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "model server did not start in time"
            time.sleep(1)
        yield url
    finally:
        stop(server)
        log.close()


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers; gone already is fine."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            continue


def json_record(row: dict[str, object]) -> dict[str, object]:
    """A JSON client's record: empty cells left out, whole numbers written as integers."""
    record: dict[str, object] = {}
    for key, value in row.items():
        if isinstance(value, float) and math.isnan(value):
            continue
        is_whole = isinstance(value, float) and value.is_integer()
        record[key] = int(value) if is_whole else value
    return record


def test_model_server_answers_json_records_including_a_customer_without_credit_limit(
    real_run, model_server: str, real_data_path: Path
) -> None:
    _, _, expected = real_run
    rows = pd.read_csv(real_data_path)
    no_limit, no_minimum = rows[rows["CREDIT_LIMIT"].isna()], rows[rows["MINIMUM_PAYMENTS"].isna()]
    picked = pd.concat([no_limit, no_minimum.head(5), rows.head(25)]).drop_duplicates("CUST_ID")
    records = [json_record(r) for r in picked.to_dict("records")]
    assert any("CREDIT_LIMIT" not in r for r in records)

    response = httpx.post(
        f"{model_server}/invocations", json={"dataframe_records": records}, timeout=60
    )

    assert response.status_code == 200, response.text
    answered = pd.DataFrame(response.json()["predictions"])
    wanted = expected.set_index("CUST_ID").loc[picked["CUST_ID"]].reset_index()
    assert_same_assignments(answered, wanted)


def test_model_server_names_the_row_and_column_it_cannot_score(
    real_run, model_server: str, real_data_path: Path
) -> None:
    rows = pd.read_csv(real_data_path).head(3)
    records = [json_record(r) for r in rows.to_dict("records")]
    records[1]["TENURE"] = 0

    response = httpx.post(
        f"{model_server}/invocations", json={"dataframe_records": records}, timeout=60
    )

    assert response.status_code == 400
    assert f"cannot score row 1 (CUST_ID {rows['CUST_ID'][1]!r}): TENURE is 0" in response.text
