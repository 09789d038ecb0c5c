"""The logged model: one shipped module, no lock file, exact requirements, a signature users fit."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.types.schema import DataType
from mlflow.utils.proto_json_utils import dataframe_from_parsed_json
from prefect import flow
from prefect.transactions import transaction

from tasks.mlops.model_logging import (
    SEGMENT_CARD_PATH,
    log_segment_model,
    model_requirements,
    read_segment_card,
)
from tasks.model.segment_model import COUNT_COLUMNS, NUMERIC_COLUMNS, OPTIONAL_COLUMNS

from .conftest import new_cell_run, new_store


@pytest.fixture(scope="module")
def logged(store_root, packaged) -> str:
    store = new_store(store_root)
    return log_segment_model.fn(packaged, store.tracking_uri, new_cell_run(store))


@pytest.fixture(autouse=True)
def _tracking(store) -> None:
    """Every test points MLflow at the session's store (a fresh experiment of its own)."""


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_the_model_ships_one_module_under_its_import_path_and_no_lock_file(
    logged: str, tmp_path: Path
) -> None:
    folder = Path(mlflow.artifacts.download_artifacts(logged, dst_path=str(tmp_path)))

    files = files_under(folder)

    assert files_under(folder / "code") == [
        "tasks/__init__.py",
        "tasks/model/__init__.py",
        "tasks/model/segment_model.py",
    ]
    assert not {"uv.lock", "pyproject.toml", ".python-version"} & {Path(f).name for f in files}
    assert SEGMENT_CARD_PATH in files
    assert (folder / "requirements.txt").read_text().split() == model_requirements()


def test_requirements_are_exactly_what_loading_needs_pinned_to_this_environment() -> None:
    from importlib.metadata import version

    assert model_requirements() == [
        f"mlflow=={version('mlflow')}",
        f"scikit-learn=={version('scikit-learn')}",
        f"pandas=={version('pandas')}",
        f"numpy=={version('numpy')}",
        f"skops=={version('skops')}",
    ]


def test_the_card_is_readable_without_loading_the_model(logged: str, packaged) -> None:
    assert read_segment_card(logged) == packaged.card


def test_the_signature_takes_counts_as_long_amounts_as_any_and_two_optional_columns(
    logged: str,
) -> None:
    inputs = mlflow.models.get_model_info(logged).signature.inputs

    kinds = {spec.name: repr(spec.type) for spec in inputs.inputs}
    optional = {spec.name for spec in inputs.inputs if not spec.required}
    assert kinds["CUST_ID"] == repr(DataType.string)
    assert {c for c in NUMERIC_COLUMNS if kinds[c] == repr(DataType.long)} == set(COUNT_COLUMNS)
    assert {c for c in NUMERIC_COLUMNS if kinds[c] == "Any"} == set(NUMERIC_COLUMNS) - set(
        COUNT_COLUMNS
    )
    assert optional == set(OPTIONAL_COLUMNS)


def test_a_batch_whose_amounts_pandas_reads_as_integers_is_scored(logged, packaged, training):
    _, clean = training
    batch = clean.head(10).copy()
    batch["CREDIT_LIMIT"] = batch["CREDIT_LIMIT"].round().astype("int64")  # as in the real file
    batch["PAYMENTS"] = batch["PAYMENTS"].round().astype("int64")

    answer = mlflow.pyfunc.load_model(logged).predict(batch)

    pd.testing.assert_frame_equal(answer, packaged.predict(batch))


def test_pyfunc_scores_rows_as_read_csv_gives_them_like_the_model_itself(
    logged: str, packaged, training
) -> None:
    _, clean = training
    batch = clean.head(30).copy()
    batch.loc[0, "CREDIT_LIMIT"] = np.nan
    batch.loc[1, "MINIMUM_PAYMENTS"] = np.nan
    assert batch["TENURE"].dtype == np.int64

    answer = mlflow.pyfunc.load_model(logged).predict(batch)

    pd.testing.assert_frame_equal(answer, packaged.predict(batch))


def test_json_records_missing_an_optional_key_or_with_whole_amounts_are_scored(
    logged: str, packaged, training
) -> None:
    _, clean = training
    records = clean.head(3).to_dict("records")
    del records[0]["CREDIT_LIMIT"]
    records[1]["BALANCE"] = round(records[1]["BALANCE"])  # a JSON client sends 1000, not 1000.0
    for record in records:
        record.pop("MINIMUM_PAYMENTS")
    model = mlflow.pyfunc.load_model(logged)
    # What `mlflow models serve` does with a `dataframe_records` body before predicting.
    parsed = dataframe_from_parsed_json(records, "records", model.metadata.get_input_schema())

    answer = model.predict(parsed)

    expected = packaged.predict(pd.DataFrame(records))
    pd.testing.assert_frame_equal(answer, expected)
    assert answer["segment_name"].notna().all()


def test_rows_the_signature_refuses_get_mlflows_error_naming_the_column(logged, training) -> None:
    _, clean = training
    batch = clean.head(3).astype({"TENURE": "float64"})
    batch.loc[0, "TENURE"] = 6.5

    with pytest.raises(mlflow.exceptions.MlflowException, match="TENURE"):
        mlflow.pyfunc.load_model(logged).predict(batch)


@pytest.mark.usefixtures("prefect_api")
def test_a_rolled_back_transaction_marks_the_logged_model_deleted(store, packaged) -> None:
    run_id = new_cell_run(store)

    @flow
    def log_then_fail() -> None:
        with transaction():
            log_segment_model(packaged, store.tracking_uri, run_id)
            raise RuntimeError("a later step failed")

    with pytest.raises(RuntimeError, match="a later step failed"):
        log_then_fail()

    assert list(store.client.search_logged_models([store.experiment_id])) == []
