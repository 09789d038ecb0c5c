"""How the chosen segments split as k grows: the same configuration refitted at the next ks.

A reader who asks "why 4 and not 5?" wants to see what a fifth segment would be: which segment
splits, and into what. The chosen model's own labels are the first column; each next k is the
same feature set and algorithm refitted with the finalists' number of starts.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from tasks.segmentation.algorithms import get_algorithm
from tasks.segmentation.finalists import finalist_params, universe
from tasks.segmentation.fit import make_cell_pipeline
from tasks.segmentation.grid import GridCell
from tasks.segmentation.scale import CHUNK_ROWS, predict_in_chunks

NEXT_KS = 2


def next_k_labels(
    cell: GridCell,
    clean: pd.DataFrame,
    labels: np.ndarray,
    *,
    steps: int = NEXT_KS,
    n_init: int = 10,
    max_rows: int = 20_000,
    max_threads: int | None = 1,
) -> dict[int, np.ndarray]:
    """{k: labels of every customer} for the chosen k (its own labels) and the next `steps` ks.

    Empty beyond the chosen k for algorithms that find their own number of segments. Fits use
    at most `max_rows` customers (a seeded sample) and then label everyone.
    """
    result = {int(cell.k) if cell.k is not None else 0: np.asarray(labels, dtype=np.int64)}
    if cell.k is None or not get_algorithm(cell.algorithm).uses_k:
        return result
    rows = universe(len(clean), max_rows, cell.seed)
    sample = clean.iloc[rows].reset_index(drop=True)
    with threadpool_limits(limits=max_threads):
        for k in range(cell.k + 1, cell.k + 1 + steps):
            larger = replace(cell, k=k)
            pipeline = make_cell_pipeline(larger, params=finalist_params(larger, n_init))
            result[k] = predict_in_chunks(pipeline.fit(sample), clean, CHUNK_ROWS)
    return result


def split_table(coarse: np.ndarray, fine: np.ndarray) -> pd.DataFrame:
    """Customers per (segment at k, segment at the next k): the flows of the split figure."""
    return pd.crosstab(pd.Series(coarse, name="from"), pd.Series(fine, name="to")).astype("int64")


def new_segment(coarse: np.ndarray, fine: np.ndarray) -> tuple[int, dict[int, int]]:
    """The segment at the next k that is least like any existing one, and where it comes from.

    Returns its id and {segment at k: customers it took from it}, largest first. "Least like"
    is the lowest share of its customers coming from one single segment at k.
    """
    flows = split_table(coarse, fine)
    purity = flows.max(axis=0) / flows.sum(axis=0)
    newest = int(purity.idxmin())
    sources = flows[newest].sort_values(ascending=False)
    return newest, {int(s): int(n) for s, n in sources.items() if n > 0}
