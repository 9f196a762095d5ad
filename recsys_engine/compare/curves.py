"""Metric@K curves rebuilt from stored recommendations (never rewriting stored rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_engine import metrics as m
from recsys_engine.compare.names import MAX_CURVE_K
from recsys_engine.compare.pair import run_info

if TYPE_CHECKING:
    from recsys_engine.store import Store


def metric_curves(
    store: Store,
    run_ids: list[int],
    max_k: int = MAX_CURVE_K,
    metrics: tuple[str, ...] = ("ndcg", "recall", "precision", "hitrate"),
) -> tuple[pd.DataFrame, dict[int, int]]:
    """Metric@K for K = 1…depth from stored recommendations and the split's test fold.

    The stored lists are top-max(K) of each run, so a run's curve stops at its stored depth
    (at most ``max_k``). Every test user counts (no list → 0), as in evaluation.

    Returns:
        (frame of run_id, label, metric, k, value; {run_id: depth drawn}).
    """
    parts, depths = [], {}
    cache: dict[tuple[int, float | None], tuple] = {}
    for rid in run_ids:
        info = run_info(store, rid)
        key = (info["split_id"], info["positive_threshold"])
        if key not in cache:
            cache[key] = _test_fold(store, *key)
        test, user_index, item_index = cache[key]
        recs = store.recommendations_frame(rid)
        depth = int(min(max_k, recs["rank"].max())) if len(recs) else 0
        depths[rid] = depth
        if depth == 0:
            continue
        recs = recs[recs["rank"] <= depth]
        top = np.full((test.shape[0], depth), -1, dtype=np.int64)
        rows = user_index.get_indexer(recs["user_id"])
        cols = item_index.get_indexer(recs["item_id"])
        ok = (rows >= 0) & (cols >= 0)
        top[rows[ok], recs["rank"].to_numpy()[ok] - 1] = cols[ok]
        hits = m.hit_matrix(top, test)
        n_rel = np.diff(test.indptr)
        values = m.ranking_metrics(hits, n_rel, tuple(range(1, depth + 1)))
        for name in metrics:
            curve = [float(values[(name, kk)].mean()) for kk in range(1, depth + 1)]
            parts.append(
                pd.DataFrame(
                    {
                        "run_id": rid,
                        "label": info["label"],
                        "metric": name,
                        "k": np.arange(1, depth + 1),
                        "value": curve,
                    }
                )
            )
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["run_id", "label", "metric", "k", "value"])
    )
    return frame, depths


def _test_fold(store: Store, split_id: int, positive_threshold: float | None):
    """Test users' relevant items as CSR (test users × items) with id indexes."""
    import scipy.sparse as sparse

    split = store.get_split(split_id)
    x = store.coded_interactions(split["dataset_id"], split_id)
    keep = x["fold"] == 2
    if positive_threshold is not None:
        keep &= x["rating"] >= float(positive_threshold)
    users = np.unique(x["user"][keep])
    row = np.searchsorted(users, x["user"][keep])
    test = sparse.csr_matrix(
        (np.ones(len(row)), (row, x["item"][keep])), shape=(len(users), len(x["item_ids"]))
    )
    test.sum_duplicates()
    test.sort_indices()
    user_index = pd.Index(np.asarray(x["user_ids"], dtype=object)[users])
    item_index = pd.Index(np.asarray(x["item_ids"], dtype=object))
    return test, user_index, item_index
