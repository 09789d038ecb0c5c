"""Scoring at portfolio scale: the champion's raw model in chunks, or per Dask partition.

Why not `pyfunc.predict` on millions of rows: MLflow checks every element of the columns the
signature declares `Any` one by one (~3.3 s per 200,000 rows), which would dominate scoring. The
rows scored here have just passed the same contract as training (tasks/data/ingest.py) and are
typed, so that check adds nothing: the raw `SegmentModel` (the same object the pyfunc wraps, with
the same `predict`) scores them directly, `chunk_rows` at a time to bound memory. Any other user
of the registered model still goes through `pyfunc`, signature check included.

For data that does not fit one machine, `score_parquet_with_dask` reads a folder of Parquet files
with `dask.dataframe`, loads the model once per worker process, and writes one scored Parquet file
per input partition. It expects clean rows (the contract runs per file before).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pandas as pd

from tasks.model.segment_model import CUST_ID, NUMERIC_COLUMNS
from tasks.segmentation.scale import CHUNK_ROWS

SCORE_CHUNK_ROWS = CHUNK_ROWS
SCORE_THREADS = 2  # the cores this was measured on; more threads only contend


def raw_model(model: object) -> object:
    """The `SegmentModel` inside a pyfunc model (or the object itself when already raw)."""
    unwrap = getattr(model, "get_raw_model", None)
    return unwrap() if unwrap is not None else model


def score_in_chunks(
    model: object,
    clean: pd.DataFrame,
    chunk_rows: int = SCORE_CHUNK_ROWS,
    threads: int = SCORE_THREADS,
) -> pd.DataFrame:
    """`predict` of the champion's raw model on clean rows, `chunk_rows` at a time.

    Chunks are scored on `threads` threads (NumPy, scikit-learn and Arrow release the GIL for
    most of the work); the answer is in row order whatever the thread count.
    """
    segment_model = raw_model(model)
    starts = range(0, len(clean), chunk_rows)
    if len(starts) <= 1:
        return segment_model.predict(clean)  # type: ignore[attr-defined]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="score") as pool:
        parts = pool.map(
            lambda start: segment_model.predict(clean.iloc[start : start + chunk_rows]),  # type: ignore[attr-defined]
            starts,
        )
        return pd.concat(list(parts))


@lru_cache(maxsize=4)
def _model_on_worker(tracking_uri: str, model_uri: str) -> object:
    """Loaded once per worker process and model (a worker scores many partitions)."""
    import mlflow

    from tasks.mlops.tracking import point_mlflow_at

    point_mlflow_at(tracking_uri)
    return mlflow.pyfunc.load_model(model_uri).get_raw_model()


def _score_partition(part: pd.DataFrame, tracking_uri: str, model_uri: str) -> pd.DataFrame:
    model = _model_on_worker(tracking_uri, model_uri)
    rows = part.astype({CUST_ID: object}).reset_index(drop=True)
    scored = model.predict(rows)  # type: ignore[attr-defined]
    return scored[[CUST_ID, "segment", "segment_name"]].astype(
        {CUST_ID: "string", "segment_name": "string"}
    )


def score_parquet_with_dask(
    input_dir: Path,
    output_dir: Path,
    tracking_uri: str,
    model_uri: str,
    client: object | None = None,
) -> int:
    """Score every Parquet file under `input_dir` per partition; returns the rows written.

    Runs on `client` (a `distributed.Client`) when given, else on dask's local threads. Output:
    `output_dir/part.N.parquet` with CUST_ID, segment, segment_name.
    """
    import dask
    import dask.dataframe as dd

    frame = dd.read_parquet(str(input_dir), columns=[CUST_ID, *NUMERIC_COLUMNS])
    meta = pd.DataFrame(
        {
            CUST_ID: pd.Series(dtype="string"),
            "segment": pd.Series(dtype="int64"),
            "segment_name": pd.Series(dtype="string"),
        }
    )
    scored = frame.map_partitions(_score_partition, tracking_uri, model_uri, meta=meta)
    write = scored.to_parquet(str(output_dir), write_index=False, compute=False)
    if client is not None:
        client.compute(write).result()  # type: ignore[attr-defined]
    else:
        dask.compute(write)
    return int(dd.read_parquet(str(output_dir)).shape[0].compute())
