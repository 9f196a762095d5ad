"""Leaderboard of the runs on a split and metric@K curves rebuilt from stored
recommendations (never rewriting stored rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_engine import metrics as m
from recsys_engine.compare import _run_info
from recsys_engine.metric_names import ACCURACY, BEYOND, LOWER_IS_BETTER, MAX_CURVE_K
from recsys_engine.models import REGISTRY


def available_ks(store: Any, split_id: int) -> list[int]:
    """Cut-offs stored for every succeeded run of a split (ascending)."""
    runs = store.list_runs()
    ids = runs[(runs["split_id"] == split_id) & (runs["status"] == "succeeded")]["id"]
    common: set[int] | None = None
    for rid in ids:
        ks = set(store.run_metrics(int(rid))["k"].dropna().astype(int))
        common = ks if common is None else common & ks
    return sorted(common or [])


def leaderboard(store: Any, split_id: int, k: int = 10, primary: str = "ndcg") -> pd.DataFrame:
    """Every succeeded run on a split, one row each, best ``primary``@K first.

    Columns: run_id, model, family, reference, fit_seconds, for each metric at K its
    value with ``<metric> low``/``<metric> high`` CI bounds (when stored), and
    ``loses_to_popularity`` (the run's primary metric is below the best Popularity run's).
    """
    runs = store.list_runs()
    runs = runs[(runs["split_id"] == split_id) & (runs["status"] == "succeeded")]
    rows = []
    for r in runs.itertuples(index=False):
        spec = REGISTRY.get(r.model)
        row: dict[str, Any] = {
            "run_id": int(r.id),
            "model": r.model,
            "family": spec.family if spec else "unknown",
            "reference": bool(spec and spec.family == "reference"),
            "fit_seconds": None if pd.isna(r.fit_seconds) else float(r.fit_seconds),
        }
        mets = store.run_metrics(int(r.id))
        mets = mets[mets["k"] == k]
        for mt in mets.itertuples(index=False):
            row[mt.metric] = None if pd.isna(mt.value) else float(mt.value)
            row[f"{mt.metric} low"] = None if pd.isna(mt.ci_low) else float(mt.ci_low)
            row[f"{mt.metric} high"] = None if pd.isna(mt.ci_high) else float(mt.ci_high)
        rows.append(row)
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    if primary not in board:
        board[primary] = np.nan
    pop = board.loc[board["model"] == "popularity", primary].max()
    board["loses_to_popularity"] = (
        (board["model"] != "popularity") & pd.notna(pop) & (board[primary] < pop)
    )
    order = [c for c in (*ACCURACY, *BEYOND) if c in board]
    cis = [f"{c} {s}" for c in order for s in ("low", "high") if f"{c} {s}" in board]
    head = ["run_id", "model", "family", "reference", "loses_to_popularity", "fit_seconds"]
    board = board[head + order + cis].sort_values(primary, ascending=False, na_position="last")
    return board.reset_index(drop=True)


def best_runs(board: pd.DataFrame) -> dict[str, int]:
    """Run id with the best value of each metric column (lowest for ARP)."""
    out = {}
    for col in (*ACCURACY, *BEYOND):
        if col in board and board[col].notna().any():
            idx = board[col].idxmin() if col in LOWER_IS_BETTER else board[col].idxmax()
            out[col] = int(board.loc[idx, "run_id"])
    return out


def metric_curves(
    store: Any,
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
    cache: dict[tuple[int, Any], tuple] = {}
    for rid in run_ids:
        info = _run_info(store, rid)
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


def _test_fold(store: Any, split_id: int, positive_threshold: float | None):
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
