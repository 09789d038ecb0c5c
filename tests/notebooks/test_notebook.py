"""The analysis notebook: executes on a real flow run's outputs and is committed without outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlflow
import nbformat
import pandas as pd
import pytest
from mlflow import MlflowClient
from nbclient import NotebookClient
from nbformat import NotebookNode

from core.settings import PipelineSettings
from tasks.segmentation.grid import GridSpec, parse_grid_spec
from tasks.data.synthetic import write_synthetic

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO_ROOT / "notebooks" / "segmentation.ipynb"
ROWS = 1_200
CELL_TIMEOUT_SECONDS = 180
# The two runs are two months of a portfolio: new data, same grid.
DATA_SEEDS = (7, 8)


def tiny_grid() -> GridSpec:
    return parse_grid_spec(
        {
            "feature_sets": ["log_scaled"],
            "algorithms": [{"name": "kmeans", "ks": [3, 5]}],
            "seeds": [0],
            "stability_resamples": 10,
            "silhouette_sample_size": 1_000,
            "finalists": {"count": 2, "seeds": 2, "resamples": 50, "n_init": 4},
        }
    )


def run_flow(work_dir: Path, data: Path) -> None:
    from flows.segmentation import segmentation

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CCSEG_WORK_DIR", str(work_dir))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("CCSEG_MLFLOW_TRACKING_URI", raising=False)
        segmentation(data_path=data, grid=tiny_grid())


def kernel_environment(work_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CCSEG_WORK_DIR": str(work_dir)}
    for name in ("MLFLOW_TRACKING_URI", "CCSEG_MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    return env


def output_text(cell: NotebookNode) -> str:
    """Everything a reader sees in a cell's outputs, as text (HTML tables included)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        for mime in ("text/markdown", "text/html", "text/plain"):
            if mime in output.get("data", {}):
                parts.append(output.data[mime])
    return "\n".join(parts)


def cell_tagged(notebook: NotebookNode, tag: str) -> NotebookNode:
    matches = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(matches) == 1, f"expected one cell tagged {tag!r}, found {len(matches)}"
    return matches[0]


def has_image(cell: NotebookNode) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


@pytest.fixture(scope="module")
def work_dir(prefect_api, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two flow runs (two data files) in one work dir: the outputs the notebook reads."""
    folder = tmp_path_factory.mktemp("notebook-run")
    for seed in DATA_SEEDS:
        data = folder / f"customers_{seed}.csv"
        write_synthetic(ROWS, seed, data)
        run_flow(folder, data)
    return folder


@pytest.fixture(scope="module")
def executed(work_dir: Path) -> NotebookNode:
    """The committed notebook, executed by a fresh python3 kernel pointed at `work_dir`."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute(env=kernel_environment(work_dir))  # raises CellExecutionError on any error
    return notebook


@pytest.fixture(scope="module")
def settings(work_dir: Path) -> PipelineSettings:
    return PipelineSettings(work_dir=work_dir)


@pytest.mark.slow
def test_every_code_cell_runs_without_error(executed: NotebookNode) -> None:
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert errors == []


@pytest.mark.slow
def test_segment_table_shows_every_segment_name_with_its_size(
    executed: NotebookNode, work_dir: Path
) -> None:
    segments = pd.read_csv(work_dir / "outputs" / "segments.csv")
    shown = output_text(cell_tagged(executed, "segment-sizes"))
    for name, customers in segments["segment_name"].value_counts().items():
        assert name in shown
        assert f"{customers:,}" in shown


@pytest.mark.slow
def test_grid_section_lists_every_cell_and_plots_metrics_against_k(
    executed: NotebookNode, settings: PipelineSettings
) -> None:
    shown = output_text(cell_tagged(executed, "grid-table"))
    assert all(cell.cell_id in shown for cell in tiny_grid().cells())
    assert has_image(cell_tagged(executed, "grid-figure"))
    assert "Chosen:" in output_text(cell_tagged(executed, "reasoning"))


@pytest.mark.slow
def test_money_actions_and_finalists_are_the_reports_own_texts(
    executed: NotebookNode, work_dir: Path
) -> None:
    analysis = json.loads((work_dir / "reports" / "analysis.json").read_text(encoding="utf-8"))
    quantities = analysis["quantities"]
    finalists = output_text(cell_tagged(executed, "finalists"))
    assert all(f["cell_id"] in finalists for f in analysis["finalists"])
    money = output_text(cell_tagged(executed, "economics"))
    actions = output_text(cell_tagged(executed, "recommendations"))
    for segment in analysis["segments"]:
        assert quantities[f"segment.{segment}.revenue"] in money
        assert quantities[f"action.{segment}.customers"] in actions
        assert analysis["actions"][segment]["target"] in actions
    assert analysis["trade_off"] in money
    assert analysis["baseline_verdict"] in output_text(cell_tagged(executed, "baseline"))
    robustness = output_text(cell_tagged(executed, "robustness"))
    assert all(v["title"] in robustness for v in analysis["robustness"])


@pytest.mark.slow
def test_notebook_describes_the_latest_run_and_compares_all_runs(
    executed: NotebookNode, settings: PipelineSettings
) -> None:
    mlflow.set_tracking_uri(settings.tracking_uri)
    runs = mlflow.search_runs(
        experiment_names=[settings.experiment_name],
        filter_string="tags.chosen_cell != ''",
        order_by=["attributes.start_time DESC"],
    )
    assert len(runs) == len(DATA_SEEDS)
    assert runs["run_id"].iloc[0] in output_text(cell_tagged(executed, "run"))
    comparison = output_text(cell_tagged(executed, "run-comparison"))
    assert all(run_id in comparison for run_id in runs["run_id"])
    assert has_image(cell_tagged(executed, "run-trend"))


@pytest.mark.slow
def test_registry_section_names_the_champion_version(
    executed: NotebookNode, settings: PipelineSettings
) -> None:
    champion = MlflowClient(settings.tracking_uri).get_model_version_by_alias(
        settings.registered_model_name, "champion"
    )
    assert f"Champion: version {champion.version} " in output_text(
        cell_tagged(executed, "registry")
    )


@pytest.mark.slow
def test_outputs_never_show_a_customer_id(executed: NotebookNode, work_dir: Path) -> None:
    customer_ids = set(pd.read_csv(work_dir / "outputs" / "segments.csv")["CUST_ID"].astype(str))
    shown = "\n".join(output_text(c) for c in executed.cells if c.cell_type == "code")
    leaked = [cid for cid in customer_ids if cid in shown]
    assert leaked == []


def test_committed_notebook_has_no_outputs_or_execution_counts() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert code_cells
    assert [c.outputs for c in code_cells if c.outputs] == []
    assert [c.execution_count for c in code_cells if c.execution_count is not None] == []


def test_first_code_cell_reads_the_work_dir_from_pipeline_settings() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "code")
    assert "settings = PipelineSettings()" in first.source


def test_notebook_reads_the_runs_results_instead_of_recomputing_them() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    recomputing = (
        "engineer_features",
        "profile_segments",
        "name_segments",
        "recommend(",
        "look_at_data",
        "feature_notes(",
        "eligibility(",
        "metrics_vs_k_figure",
        ".fit(",
        "segment_economics",
        "plan_actions",
        "compare_with_rule",
        "evaluate_finalist",
        "robustness(",
        "build_quantities",
    )
    assert [call for call in recomputing if call in code] == []
    assert 'run_text("report/analysis.json")' in code
