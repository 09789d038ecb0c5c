"""Report fixtures: the report's inputs made by the real grid code, on synthetic and real data.

What the segmentation flow does between the data and the report, minus MLflow and Prefect: every
grid cell through `tasks.segmentation.fit.fit_cell`, the shortlist and finalists through the
selection rule, and `tasks.report.publish.report_inputs` to assemble what the report reads. Each
is built once per session, so the report tests see what a real run produces, at test size.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import EconomicsSettings
from tasks.data.ingest import read_and_validate
from tasks.data.synthetic import write_synthetic
from tasks.mlops.cell_runs import CellOutcome, grid_table
from tasks.report.build import Report, ReportInputs, build_report
from tasks.report.publish import report_inputs
from tasks.segmentation.features import engineer_features
from tasks.segmentation.finalists import evaluate_finalist
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import GridSpec, parse_grid_spec
from tasks.segmentation.selection import select_cell, shortlist


def small_grid(
    ks: list[int], feature_sets: list[str], finalists: int = 2, finalist_rows: int = 20_000
) -> GridSpec:
    return parse_grid_spec(
        {
            "feature_sets": feature_sets,
            "algorithms": [{"name": "kmeans", "ks": ks}],
            "seeds": [0],
            "stability_resamples": 10,
            "silhouette_sample_size": 1_500,
            "finalists": {
                "count": finalists,
                "seeds": 2,
                "resamples": 50,
                "n_init": 4,
                "max_rows": finalist_rows,
            },
        }
    )


def grid_report_inputs(
    path: Path, grid: GridSpec, *, is_synthetic: bool, economics: EconomicsSettings | None = None
) -> ReportInputs:
    """Validate `path`, run `grid` with the real code and return the report's inputs."""
    ingest = read_and_validate(path)
    clean = ingest.clean
    outcomes = {}
    for cell in grid.cells():
        result = fit_cell(
            cell,
            clean,
            stability_resamples=grid.stability_resamples,
            silhouette_sample_size=grid.silhouette_sample_size,
        )
        outcomes[cell.cell_id] = CellOutcome(result=result, run_id="")
    table = grid_table(list(outcomes.values()))
    labels = {cell_id: o.result.labels for cell_id, o in outcomes.items()}
    ids, duplicates = shortlist(table, labels, grid.finalists.count)
    finalists = [
        evaluate_finalist(
            outcomes[i].cell, clean, labels[i], grid.finalists, grid.silhouette_sample_size
        )
        for i in ids
    ]
    selection = select_cell(table, finalists, duplicates)
    meta = {
        "mlflow_run_id": "test",
        "prefect_flow_run_id": "test",
        "data_sha256": ingest.summary.sha256,
        "code_version": "test",
        "generated_at": "test",
        "is_synthetic": is_synthetic,
        "registry": "not registered (test)",
    }
    return report_inputs(
        ingest,
        engineer_features(clean),
        table,
        selection,
        outcomes[selection.chosen_cell_id],
        None,
        meta,
        grid,
        economics,
    )


SYNTHETIC_ROWS = 2_500


@pytest.fixture(scope="session")
def synthetic_inputs(tmp_path_factory: pytest.TempPathFactory) -> ReportInputs:
    """A small real grid (k-means, two feature sets, k 3-5, two finalists) on synthetic data."""
    path = write_synthetic(SYNTHETIC_ROWS, 3, tmp_path_factory.mktemp("synthetic") / "cc.csv")
    grid = small_grid([3, 4, 5], ["log_scaled", "behavioural"], finalists=2)
    return grid_report_inputs(path, grid, is_synthetic=True)


@pytest.fixture(scope="session")
def synthetic_report(synthetic_inputs: ReportInputs) -> Report:
    return build_report(synthetic_inputs)


@pytest.fixture(scope="session")
def real_inputs(real_data_path: Path) -> ReportInputs:
    """The real grid code on the real file: PCA and its plain twin at k 4-5, two finalists."""
    grid = small_grid([4, 5], ["behavioural", "behavioural_pca"], finalists=2)
    return grid_report_inputs(real_data_path, grid, is_synthetic=False)


@pytest.fixture(scope="session")
def real_report(real_inputs: ReportInputs) -> Report:
    return build_report(real_inputs)
