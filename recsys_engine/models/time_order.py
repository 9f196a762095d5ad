"""The (user, time, item) order of interactions, which order-aware models and their
context read (``data.ordered_histories``, ``event_context.EventContext.build``)."""

from __future__ import annotations

import numpy as np


def time_order(users: np.ndarray, items: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The permutation that sorts interactions by (user, time, item): exactly
    ``np.lexsort((items, ts, users))`` (stable, so equal rows keep their order), from one
    stable ``argsort`` of a single int64 key ``(user · T + t) · I + item`` whenever that
    key fits (``t``: the time in whole seconds from the earliest, or its rank among the
    distinct times when the times have fractions or span too much). Lexsort's three
    passes took ~11 s for 16M interactions here; the single key about a fifth of that.

    Args:
        users, items: non-negative integer codes (int64).
        ts: float times, no NaN.
    """
    if len(users) == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.isfinite(ts).all() or min(int(users.min()), int(items.min())) < 0:
        return np.lexsort((items, ts, users))
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    limit = 2**63 - 1
    t = ts - ts.min()
    n_times = int(t.max()) + 1
    whole = n_times < 2**53 and np.array_equal(t, np.floor(t))
    if not whole or n_users * n_times * n_items > limit:
        _, t = np.unique(ts, return_inverse=True)
        n_times = int(t.max()) + 1
        if n_users * n_times * n_items > limit:
            return np.lexsort((items, ts, users))
    key = (users * n_times + t.astype(np.int64)) * n_items + items
    return np.argsort(key, kind="stable")
