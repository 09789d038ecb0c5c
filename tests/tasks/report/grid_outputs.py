"""The report's inputs made by the real grid code (fit, shortlist, finalists, select, publish).

What the segmentation flow does between the data and the report, minus MLflow and Prefect: every
grid cell through `tasks.segmentation.fit.fit_cell`, the shortlist and the finalists through the
selection rule, and `tasks.report.publish.report_inputs` to assemble what the report reads. The
report tests run on these outputs, so they see what a real run produces.
"""

from __future__ import annotations

from pathlib import Path

from core.settings import EconomicsSettings
from tasks.data.ingest import read_and_validate
from tasks.mlops.cell_runs import CellOutcome, grid_table
from tasks.report.build import ReportInputs
from tasks.report.publish import report_inputs
from tasks.segmentation.features import engineer_features
from tasks.segmentation.finalists import evaluate_finalist
from tasks.segmentation.fit import fit_cell
from tasks.segmentation.grid import GridSpec, parse_grid_spec
from tasks.segmentation.selection import select_cell, shortlist


def small_grid(ks: list[int], feature_sets: list[str], finalists: int = 2) -> GridSpec:
    return parse_grid_spec(
        {
            "feature_sets": feature_sets,
            "algorithms": [{"name": "kmeans", "ks": ks}],
            "seeds": [0],
            "stability_resamples": 10,
            "silhouette_sample_size": 1_500,
            "finalists": {"count": finalists, "seeds": 2, "resamples": 50, "n_init": 4},
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
        outcomes[cell.cell_id] = CellOutcome(result=result, run_id="", model_uri="")
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
