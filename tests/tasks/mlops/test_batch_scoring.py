"""Batch scoring at scale: the raw model in chunks, and per Dask partition over Parquet files."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from tasks.data.synthetic import generate_synthetic
from tasks.mlops.batch_scoring import score_in_chunks, score_parquet_with_dask


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_chunked_raw_scoring_answers_exactly_as_the_pyfunc_model(store, register, threads) -> None:
    register()
    mlflow.set_tracking_uri(store.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{store.model_name}@champion")
    rows = generate_synthetic(1_000, 21)[0]

    chunked = score_in_chunks(model, rows, chunk_rows=300, threads=threads)

    pd.testing.assert_frame_equal(chunked, model.predict(rows))


def test_dask_scores_a_partitioned_parquet_folder_like_one_predict(store, register, tmp_path):
    register()
    model_uri = f"models:/{store.model_name}@champion"
    rows = generate_synthetic(1_200, 22)[0]
    batch = tmp_path / "batch"
    batch.mkdir()
    for number, start in enumerate(range(0, len(rows), 400)):  # three files, three partitions
        rows.iloc[start : start + 400].to_parquet(batch / f"part-{number}.parquet", index=False)

    written = score_parquet_with_dask(batch, tmp_path / "scored", store.tracking_uri, model_uri)

    scored = pd.read_parquet(tmp_path / "scored")
    assert written == len(rows) == len(scored)
    assert len(list((tmp_path / "scored").glob("*.parquet"))) == 3
    mlflow.set_tracking_uri(store.tracking_uri)
    expected = mlflow.pyfunc.load_model(model_uri).predict(rows)
    merged = scored.astype({"CUST_ID": object}).merge(
        expected[["CUST_ID", "segment", "segment_name"]], on="CUST_ID", suffixes=("", "_one")
    )
    assert len(merged) == len(rows)
    assert (merged["segment"] == merged["segment_one"]).all()
    assert (merged["segment_name"] == merged["segment_name_one"]).all()
