"""User segments of a split and the primary metric within each of them (DESIGN §6).

Segments (``user_segments``) come from the split's train fold: activity terciles (users
ranked by train interactions and cut into three equal groups), cold users (at most
``cold_max`` train interactions) vs the rest, and head vs long-tail users: the head is the
top 20% of items by train popularity, and a user is "mostly head" when at least half of
their test items are head items (otherwise "mostly long-tail").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_engine.compare.options import CompareOptions
from recsys_engine.compare.stats import benjamini_hochberg, bootstrap_columns
from recsys_engine.compare.verdict import compare_values

if TYPE_CHECKING:
    from recsys_engine.store import Store


def user_segments(
    store: Store,
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
            labels[sel] = f"{names[t]} ({_count_range(act[sel].min(), act[sel].max())})"
    frame["activity"] = labels
    frame["popularity"] = np.where(
        frame["head_share"] >= 0.5, "Mostly popular items", "Mostly long-tail items"
    )
    frame["cold"] = np.where(
        act <= cold_max, f"New users (≤{cold_max} interactions)", f"Established users (>{cold_max})"
    )
    return frame


def _count_range(low: int, high: int) -> str:
    """``"4 interactions"`` for a single value, ``"5–6 interactions"`` for a range."""
    if low == high:
        return f"{low} interaction" + ("" if low == 1 else "s")
    return f"{low}–{high} interactions"


SEGMENT_FAMILIES = {
    "activity": "User activity",
    "popularity": "Item popularity of test items",
    "cold": "Cold start",
}


def segment_order(label: str) -> tuple[int, str]:
    """Sort key of a segment label: light, medium, heavy, mostly popular, new, then others."""
    for i, word in enumerate(("Light", "Medium", "Heavy", "Mostly popular", "New")):
        if label.startswith(word):
            return i, label
    return 9, label


def segment_table(
    paired: pd.DataFrame, segments: pd.DataFrame, options: CompareOptions
) -> pd.DataFrame:
    """Primary-metric statistics per segment (one bootstrap pass for all of them),
    Benjamini–Hochberg-adjusted across all segments."""
    data = paired.merge(segments, on="user_id", how="left")
    groups = []
    for col, family in SEGMENT_FAMILIES.items():
        labels = data[col].to_numpy()
        for label in sorted(pd.unique(labels[pd.notna(labels)]), key=segment_order):
            sel = labels == label
            if sel.sum() >= 2:
                groups.append((family, label, sel))
    if not groups:
        return pd.DataFrame()
    a, b = data["a"].to_numpy(dtype=float), data["b"].to_numpy(dtype=float)
    masks = np.column_stack([g[2] for g in groups])
    boot = bootstrap_columns(
        np.repeat(a[:, None], len(groups), axis=1),
        np.repeat(b[:, None], len(groups), axis=1),
        masks,
        options.n_resamples,
        options.seed,
        options.level,
    )
    rows = []
    for j, (family, label, sel) in enumerate(groups):
        one = {key: value[j] for key, value in boot.items()}
        r = compare_values(a[sel], b[sel], options.primary, options, one)
        rows.append(
            {
                "family": family,
                "segment": label,
                "users": r.n,
                "mean_a": r.mean_a,
                "mean_b": r.mean_b,
                "diff": r.diff,
                "rel_change": r.rel_change,
                "rel_ci_low": r.rel_ci_low,
                "rel_ci_high": r.rel_ci_high,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_value": r.p_value,
                "wins": r.wins,
                "ties": r.ties,
                "losses": r.losses,
            }
        )
    out = pd.DataFrame(rows)
    out["p_bh"] = benjamini_hochberg(out["p_value"].to_numpy())
    return out
