"""Assigning folds: the four strategies as pure functions on coded interaction arrays,
and the counts and warnings of a split. Vectorised: one sort per fold, no loop per row."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from recsys_engine.errors import ConfigError
from recsys_engine.splits.config import (
    RANDOM_ON_TIME_WARNING,
    TEST,
    TRAIN,
    VALIDATION,
    SplitConfig,
    iso_time,
    parse_date,
)


def assign_folds(arrays: dict[str, np.ndarray], config: SplitConfig) -> np.ndarray:
    """Fold code per interaction (0 train, 1 validation, 2 test) for coded arrays.

    ``arrays`` needs ``user`` and ``item`` (int codes) and ``ts`` (float seconds, NaN when
    unknown). Rows must be in a canonical order (``coded_interactions`` sorts by user,
    item) for the same seed to give the same split.
    """
    user = np.asarray(arrays["user"], dtype=np.int64)
    item = np.asarray(arrays["item"], dtype=np.int64)
    ts = np.asarray(arrays["ts"], dtype=np.float64)
    n = len(user)
    if n == 0:
        raise ConfigError("the dataset has no interactions to split")
    folds = np.zeros(n, dtype=np.int8)
    all_rows = np.arange(n)
    rng_test = np.random.default_rng([config.seed, 0])
    rng_val = np.random.default_rng([config.seed, 1])
    s = config.strategy
    if s in ("temporal", "leave-last") and np.isnan(ts).all():
        raise ConfigError(f"strategy {s!r} needs timestamps, and this dataset has none")

    if s == "random":
        test = _random_holdout(
            user, all_rows, config.test_fraction, config.min_interactions, rng_test
        )
    elif s == "temporal":
        cut = parse_date(config.cut_date) if config.cut_date else None
        test = _temporal(ts, all_rows, config.test_fraction, cut)
    elif s == "leave-last":
        test = _leave_last(user, ts, all_rows, config.n_last, config.min_interactions, rng_test)
    else:
        test = _cold_items(item, all_rows, config.test_fraction, rng_test)
    folds[test] = TEST
    if len(test) == 0:
        raise ConfigError(
            f"strategy {s!r} with these parameters puts no interaction in test; "
            "lower min_interactions or raise the fraction"
        )

    train_rows = np.flatnonzero(folds == TRAIN)
    if s == "random" and config.validation_fraction > 0:
        val = _random_holdout(
            user, train_rows, config.validation_fraction, config.min_interactions, rng_val
        )
    elif s == "temporal" and config.validation_fraction > 0:
        val = _temporal(ts, train_rows, config.validation_fraction, None)
    elif s == "leave-last" and config.validation_last > 0:
        val = _leave_last(
            user, ts, train_rows, config.validation_last, config.min_interactions, rng_val
        )
    elif s == "cold-items" and config.validation_fraction > 0:
        val = _cold_items(item, train_rows, config.validation_fraction, rng_val)
    else:
        val = np.empty(0, dtype=np.int64)
    folds[val] = VALIDATION
    return folds


def split_stats(
    arrays: dict[str, np.ndarray], folds: np.ndarray, config: SplitConfig
) -> dict[str, Any]:
    """Counts and warnings of a split.

    Returns:
        ``interactions``, ``train_rows``/``validation_rows``/``test_rows``,
        ``train_users``/``validation_users``/``test_users``, ``test_items``,
        ``test_users_unseen`` (test users without any training row),
        ``test_items_unseen`` (test items without any training row),
        ``test_rows_unseen_item``, ``users_kept_whole`` (per-user strategies: users below
        the minimum), ``cut`` (temporal), ``warnings`` (what may mislead a comparison:
        future leaks, unscorable test users or items) and ``notes`` (facts worth knowing
        that are not a problem, e.g. users too short to hold anything out).
    """
    user = np.asarray(arrays["user"])
    item = np.asarray(arrays["item"])
    ts = np.asarray(arrays["ts"], dtype=np.float64)
    n_users = int(user.max()) + 1 if len(user) else 0
    n_items = len(arrays.get("item_ids", [])) or (int(item.max()) + 1 if len(item) else 0)
    tr, va, te = folds == TRAIN, folds == VALIDATION, folds == TEST
    train_user = np.bincount(user[tr], minlength=n_users) > 0
    train_item = np.bincount(item[tr], minlength=n_items) > 0
    test_users = np.unique(user[te])
    test_items = np.unique(item[te])
    stats: dict[str, Any] = {
        "interactions": int(len(folds)),
        "train_rows": int(tr.sum()),
        "validation_rows": int(va.sum()),
        "test_rows": int(te.sum()),
        "train_users": int(train_user.sum()),
        "validation_users": int(len(np.unique(user[va]))),
        "test_users": int(len(test_users)),
        "train_items": int(train_item.sum()),
        "test_items": int(len(test_items)),
        "test_users_unseen": int((~train_user[test_users]).sum()),
        "test_items_unseen": int((~train_item[test_items]).sum()),
        "test_rows_unseen_item": int((~train_item[item[te]]).sum()),
    }
    warnings: list[str] = []
    notes: list[str] = []
    has_time = bool(np.isfinite(ts).any())
    if config.strategy == "random" and has_time:
        warnings.append(RANDOM_ON_TIME_WARNING)
    if config.strategy in ("random", "leave-last"):
        counts = np.bincount(user, minlength=n_users)
        need = config.min_interactions
        if config.strategy == "leave-last":
            need = max(need, config.n_last + 1)
        whole = int(((counts > 0) & (counts < need)).sum())
        stats["users_kept_whole"] = whole
        if whole:
            notes.append(
                f"{whole:,} user has fewer than {need} interactions and stays wholly in train"
                if whole == 1
                else f"{whole:,} users have fewer than {need} interactions and stay wholly "
                "in train"
            )
    per_user_validation = (
        config.validation_last > 0
        if config.strategy == "leave-last"
        else config.strategy == "random" and config.validation_fraction > 0
    )
    if per_user_validation and stats["validation_rows"]:
        validated = np.bincount(user[va], minlength=n_users) > 0
        short = int((~validated[test_users]).sum())
        if short:  # why validation counts fewer users than test, said before anyone asks
            notes.append(
                f"{short:,} of the {len(test_users):,} test users "
                + ("has" if short == 1 else "have")
                + " too few interactions left after the test to hold one out for "
                "validation: they are tested, and early stopping and tuning read the others"
            )
    if config.strategy == "temporal":
        cut_ts = ts[te]
        stats["cut"] = iso_time(float(np.nanmin(cut_ts))) if len(cut_ts) else None
    if stats["test_users_unseen"]:
        warnings.append(
            f"{stats['test_users_unseen']} test users have no training interactions; "
            "history-based models cannot score them (they count as 0)"
        )
    if stats["test_items_unseen"] and config.strategy != "cold-items":
        warnings.append(
            f"{stats['test_items_unseen']} test items never appear in training; "
            "collaborative models cannot recommend them"
        )
    stats["warnings"] = warnings
    stats["notes"] = notes
    return stats


# -- strategies (return selected row indices) ---------------------------------------------
def _random_holdout(
    user: np.ndarray, rows: np.ndarray, fraction: float, min_n: int, rng: np.random.Generator
) -> np.ndarray:
    if len(rows) == 0:
        return rows
    u = user[rows]
    counts = np.bincount(u)
    n_out = np.floor(counts * fraction + 0.5).astype(np.int64)
    n_out = np.minimum(np.maximum(n_out, 1), counts - 1)
    n_out[counts < max(min_n, 2)] = 0
    key = rng.random(len(rows))
    order = np.lexsort((key, u))
    return rows[order[_rank_in_group(u[order], counts) < n_out[u[order]]]]


def _leave_last(
    user: np.ndarray,
    ts: np.ndarray,
    rows: np.ndarray,
    n_last: int,
    min_n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    if len(rows) == 0:
        return rows
    u = user[rows]
    counts = np.bincount(u)
    # newest first; unknown times sort last (never held out); random key breaks ties
    neg_ts = np.where(np.isnan(ts[rows]), np.inf, -ts[rows])
    key = rng.random(len(rows))
    order = np.lexsort((key, neg_ts, u))
    eligible = counts >= max(min_n, n_last + 1)
    uo = u[order]
    pick = (_rank_in_group(uo, counts) < n_last) & eligible[uo] & np.isfinite(neg_ts[order])
    return rows[order[pick]]


def _temporal(ts: np.ndarray, rows: np.ndarray, fraction: float, cut: float | None) -> np.ndarray:
    t = ts[rows]
    known = np.isfinite(t)
    if not known.any():
        return rows[:0]
    if cut is None:
        cut_value = np.quantile(t[known], 1.0 - fraction)
        pick = known & (t > cut_value)
    else:
        pick = known & (t >= cut)
    return rows[pick]


def _cold_items(
    item: np.ndarray, rows: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    if len(rows) == 0:
        return rows
    items = np.unique(item[rows])
    n_out = min(max(int(math.floor(len(items) * fraction + 0.5)), 1), len(items) - 1)
    chosen = rng.permutation(items)[:n_out]
    return rows[np.isin(item[rows], chosen)]


def _rank_in_group(sorted_groups: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Position of each row inside its group, for rows sorted by group code."""
    starts = np.cumsum(counts) - counts
    return np.arange(len(sorted_groups)) - starts[sorted_groups]
