"""Context shown with each listed item: popularity percentile and similar users.

Neither is a reason (the model does not use them); they help a reader judge the list.
Both are read from the training matrix only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def popularity_percentile(popularity: np.ndarray) -> np.ndarray:
    """Share of catalogue items at most as popular as each item (0–100)."""
    order = np.sort(popularity)
    return 100.0 * np.searchsorted(order, popularity, side="right") / max(1, len(order))


def more_popular_than(popularity: np.ndarray) -> np.ndarray:
    """Percent of the *other* catalogue items strictly less popular than each item (0–100),
    rounded down to 0.1.

    ``popularity_percentile`` counts the item itself and its ties, so the most popular item
    has 100 and "more popular than 100% of the catalogue" would be false. This one is what
    "more popular than X% of the other items" says: rounding down never overstates it, and
    100 means that no other item is as popular.
    """
    order = np.sort(popularity)
    less = np.searchsorted(order, popularity, side="left").astype(np.int64)
    return (1000 * less // max(1, len(order) - 1)) / 10.0


def similar_users(
    train_csc: sp.csc_matrix, anchors: np.ndarray, item: int, row: int | None
) -> tuple[int, int]:
    """Training users sharing ≥ 1 anchor item, and how many of them chose ``item``.

    ``row`` (the user being explained, when stored) is left out of the count.
    """
    if len(anchors) == 0:
        return 0, 0
    c = train_csc
    users = np.unique(np.concatenate([c.indices[c.indptr[a] : c.indptr[a + 1]] for a in anchors]))
    if row is not None:
        users = users[users != row]
    chose = np.intersect1d(users, c.indices[c.indptr[item] : c.indptr[item + 1]])
    return int(len(users)), int(len(chose))
