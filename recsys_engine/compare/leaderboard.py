"""Leaderboard of the succeeded runs on a split, one row per run, best first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_engine.compare.names import ACCURACY, BEYOND, LOWER_IS_BETTER, SHELF
from recsys_engine.compare.stats import holm, paired_pvalue
from recsys_engine.models import REGISTRY

if TYPE_CHECKING:
    from recsys_engine.store import Store


def available_ks(store: Store, split_id: int) -> list[int]:
    """Cut-offs stored for every succeeded run of a split (ascending)."""
    runs = store.list_runs()
    ids = runs[(runs["split_id"] == split_id) & (runs["status"] == "succeeded")]["id"]
    common: set[int] | None = None
    for rid in ids:
        ks = set(store.run_metrics(int(rid))["k"].dropna().astype(int))
        common = ks if common is None else common & ks
    return sorted(common or [])


def leaderboard(
    store: Store, split_id: int, k: int = 10, primary: str = "ndcg", tuned_only: bool = False
) -> pd.DataFrame:
    """Every succeeded run on a split (only the tuned ones with ``tuned_only``), one row
    each, best ``primary``@K first.

    Columns: run_id, model, family, reference, fit_seconds, tuning (the run's tuning
    budget dict, None when trained with given settings), for each metric at K its
    value with ``<metric> low``/``<metric> high`` CI bounds (when stored),
    ``loses_to_popularity`` (the run's primary metric is below the best Popularity run's)
    and ``rank_group`` (``rank_groups`` on the per-user ``primary``@K; 1 = tied for best).
    """
    runs = store.list_runs()
    runs = runs[(runs["split_id"] == split_id) & (runs["status"] == "succeeded")]
    if tuned_only:
        runs = runs[runs["tuning"].notna()]
    rows = []
    for r in runs.itertuples(index=False):
        spec = REGISTRY.get(r.model)
        row: dict[str, Any] = {
            "run_id": int(r.id),
            "model": r.model,
            "family": spec.family if spec else "unknown",
            "reference": bool(spec and spec.family == "reference"),
            "fit_seconds": None if pd.isna(r.fit_seconds) else float(r.fit_seconds),
            # the tuning budget (None: trained with given settings), shown for fairness
            "tuning": json.loads(r.tuning) if isinstance(r.tuning, str) else None,
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
    order = [c for c in (*ACCURACY, *BEYOND, *SHELF) if c in board]
    cis = [f"{c} {s}" for c in order for s in ("low", "high") if f"{c} {s}" in board]
    per_user = {}
    for rid in board["run_id"]:
        frame = store.user_metrics_frame(int(rid), primary, k)
        per_user[int(rid)] = frame.set_index("user_id")["value"].astype(float)
    groups = rank_groups(per_user, lower_is_better=primary in LOWER_IS_BETTER)
    board["rank_group"] = [groups.get(int(r)) for r in board["run_id"]]
    head = [
        "run_id",
        "model",
        "family",
        "reference",
        "rank_group",
        "loses_to_popularity",
        "fit_seconds",
        "tuning",
    ]
    board = board[head + order + cis].sort_values(primary, ascending=False, na_position="last")
    return board.reset_index(drop=True)


def best_runs(board: pd.DataFrame) -> dict[str, int]:
    """Run id with the best value of each metric column (lowest for ARP)."""
    out = {}
    for col in (*ACCURACY, *BEYOND, *SHELF):
        if col in board and board[col].notna().any():
            idx = board[col].idxmin() if col in LOWER_IS_BETTER else board[col].idxmax()
            out[col] = int(board.loc[idx, "run_id"])
    return out


def rank_groups(
    values: dict[int, pd.Series], alpha: float = 0.05, lower_is_better: bool = False
) -> dict[int, int]:
    """Rank group of each run from its per-user values (index: user_id).

    Group 1 is the run with the best mean and every run that a paired t-test against it,
    over the users both runs scored, cannot tell apart: Holm-adjusted p ≥ alpha across the
    runs tested against that best run (so several comparisons do not inflate false
    "worse" calls). The remaining runs form groups 2, 3, … the same way. Runs without
    per-user values get no group. Runs in one group are statistically tied: highlight
    the group, not the single largest number.
    """
    remaining = {rid: v.dropna() for rid, v in values.items() if v.notna().any()}
    sign = -1.0 if lower_is_better else 1.0
    groups: dict[int, int] = {}
    group = 0
    while remaining:
        group += 1
        best = max(remaining, key=lambda rid: (sign * remaining[rid].mean(), -rid))
        others = [rid for rid in remaining if rid != best]
        pvalues = []
        for rid in others:
            both = pd.concat([remaining[best], remaining[rid]], axis=1, join="inner")
            pvalues.append(
                paired_pvalue(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
                if len(both) >= 2
                else 0.0
            )
        tied = [rid for rid, p in zip(others, holm(pvalues), strict=True) if p >= alpha]
        for rid in (best, *tied):
            groups[rid] = group
            del remaining[rid]
    return groups
