"""User segments of a split (activity terciles, head vs long-tail, cold users) and the
list overlap between two runs' top-K lists (Jaccard@K, rank-biased overlap)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from recsys_engine.paired_stats import (
    _CHUNK_ELEMENTS,
)


def user_segments(
    store: Any,
    split_id: int,
    cold_max: int = 5,
    head_fraction: float = 0.2,
    positive_threshold: float | None = None,
) -> pd.DataFrame:
    """Segment labels of every test user of a split (definitions in the module docstring).

    Returns:
        user_id, train_interactions, head_share, activity, popularity, cold.
    """
    split = store.get_split(split_id)
    x = store.coded_interactions(split["dataset_id"], split_id)
    fold, user, item = x["fold"], x["user"], x["item"]
    positive = np.ones(len(fold), dtype=bool)
    if positive_threshold is not None:
        positive = x["rating"] >= float(positive_threshold)
    n_users, n_items = len(x["user_ids"]), len(x["item_ids"])
    train = (fold == 0) & positive
    test = (fold == 2) & positive
    activity = np.bincount(user[train], minlength=n_users)
    popularity = np.bincount(item[train], minlength=n_items)
    n_head = max(1, int(math.ceil(head_fraction * n_items)))
    head = np.zeros(n_items, dtype=bool)
    head[np.argsort(-popularity, kind="stable")[:n_head]] = True
    test_count = np.bincount(user[test], minlength=n_users)
    head_count = np.bincount(user[test], weights=head[item[test]], minlength=n_users)
    users = np.flatnonzero(test_count > 0)
    act = activity[users]
    frame = pd.DataFrame(
        {
            "user_id": np.asarray(x["user_ids"], dtype=object)[users],
            "train_interactions": act,
            "head_share": head_count[users] / test_count[users],
        }
    )
    # terciles by rank; tied users share the lower tercile so the ranges never overlap
    rank = pd.Series(act).rank(method="min").to_numpy() - 1
    tercile = np.minimum((rank * 3 // max(len(users), 1)).astype(int), 2)
    names = ("Light users", "Medium users", "Heavy users")
    labels = np.empty(len(users), dtype=object)
    for t in range(3):
        sel = tercile == t
        if sel.any():
            labels[sel] = f"{names[t]} ({act[sel].min()}–{act[sel].max()} interactions)"
    frame["activity"] = labels
    frame["popularity"] = np.where(
        frame["head_share"] >= 0.5, "Mostly popular items", "Mostly long-tail items"
    )
    frame["cold"] = np.where(
        act <= cold_max, f"New users (≤{cold_max} interactions)", f"Established users (>{cold_max})"
    )
    return frame


SEGMENT_FAMILIES = {
    "activity": "User activity",
    "popularity": "Item popularity of test items",
    "cold": "Cold start",
}


def _segment_order(label: str) -> tuple[int, str]:
    for i, word in enumerate(("Light", "Medium", "Heavy", "Mostly popular", "New")):
        if label.startswith(word):
            return i, label
    return 9, label


def list_overlap(recs_a: pd.DataFrame, recs_b: pd.DataFrame, k: int, p: float = 0.9):
    """Jaccard@K and extrapolated rank-biased overlap (RBO, Webber et al. 2010) per user.

    RBO_ext = X_d/d · p^d + (1−p)/p · Σ_{i≤d} X_i/i · p^i at depth d = the shorter list
    (≤ K), where X_i is the overlap of the two top-i prefixes: 1 for identical lists,
    0 for disjoint ones. Only users with a list in both runs.

    Returns:
        user_id, jaccard, rbo.
    """
    lists = []
    for recs in (recs_a, recs_b):
        top = recs[recs["rank"] <= k]
        lists.append(top.pivot(index="user_id", columns="rank", values="item_id"))
    users = lists[0].index.intersection(lists[1].index)
    if len(users) == 0:
        return pd.DataFrame({"user_id": [], "jaccard": [], "rbo": []})
    la = lists[0].loc[users].reindex(columns=range(1, k + 1))
    lb = lists[1].loc[users].reindex(columns=range(1, k + 1))
    values = np.concatenate([la.to_numpy().ravel(), lb.to_numpy().ravel()])
    catalogue = pd.Index(pd.unique(values[pd.notna(values)]))
    a = catalogue.get_indexer(la.to_numpy().ravel()).reshape(la.shape).astype(np.int64)
    b = catalogue.get_indexer(lb.to_numpy().ravel()).reshape(lb.shape).astype(np.int64)
    len_a, len_b = (a >= 0).sum(axis=1), (b >= 0).sum(axis=1)
    depth = np.minimum(len_a, len_b)
    rbo = np.zeros(len(users))
    overlap = np.zeros(len(users))
    # chunk users so the n × K × K match cube stays small
    step = max(1, _CHUNK_ELEMENTS // (k * k))
    for start in range(0, len(users), step):
        sl = slice(start, start + step)
        match = (a[sl, :, None] == b[sl, None, :]) & (a[sl, :, None] >= 0)
        in_b = match.any(axis=2)
        pos_b = np.where(in_b, match.argmax(axis=2), k)  # 0-based rank in B, k = absent
        enter = np.maximum(np.arange(k)[None, :], pos_b)  # prefix depth where it counts
        rows = enter.shape[0]
        flat = (np.arange(rows)[:, None] * (k + 1) + enter).ravel()
        x = np.bincount(flat, minlength=rows * (k + 1)).reshape(rows, k + 1)
        xd = np.cumsum(x[:, :k], axis=1)  # X_d for d = 1..k
        dd = np.arange(1, k + 1)
        d_here = depth[sl]
        valid = dd[None, :] <= d_here[:, None]
        terms = np.where(valid, xd / dd * p**dd, 0.0).sum(axis=1)
        idx = np.maximum(d_here - 1, 0)
        x_at = xd[np.arange(len(idx)), idx]
        tail = np.where(d_here > 0, x_at / np.maximum(d_here, 1) * p**d_here, 0.0)
        rbo[sl] = np.where(d_here > 0, tail + (1 - p) / p * terms, 0.0)
        overlap[sl] = in_b.sum(axis=1)
    union = len_a + len_b - overlap
    jaccard = np.where(union > 0, overlap / np.maximum(union, 1), 1.0)
    return pd.DataFrame({"user_id": np.asarray(users), "jaccard": jaccard, "rbo": rbo})
