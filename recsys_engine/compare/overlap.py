"""How alike two runs' top-K lists are per user: Jaccard@K and rank-biased overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_engine.compare.stats import CHUNK_ELEMENTS


def list_overlap(
    recs_a: pd.DataFrame, recs_b: pd.DataFrame, k: int, p: float = 0.9
) -> pd.DataFrame:
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
    step = max(1, CHUNK_ELEMENTS // (k * k))
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
