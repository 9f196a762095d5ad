"""Statistics of a count distribution: how concentrated interactions are on few items.

Pure functions over numpy counts (no store), used by the dataset profile and its tests.
"""

from __future__ import annotations

import math

import numpy as np

#: Users with fewer interactions than this count as "light" users.
LIGHT_USER_THRESHOLD = 5


def top_share(counts: np.ndarray, fraction: float) -> float:
    """Share of all interactions taken by the most popular ``fraction`` of items.

    The top group has ``ceil(fraction * n)`` items, at least one. ``counts`` need not be
    sorted. Returns 0.0 for no items.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if counts.size == 0 or total <= 0:
        return 0.0
    k = max(1, math.ceil(fraction * counts.size - 1e-9))
    top = np.partition(counts, counts.size - k)[counts.size - k :]
    return float(top.sum() / total)


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts.

    G = (2 Σ_i i·x_(i)) / (n Σ_i x_i) − (n + 1) / n with x sorted ascending and i = 1..n;
    0 when every item is equally popular, (n − 1)/n when one item has everything.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    total = x.sum()
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * (ranks * x).sum() / (n * total) - (n + 1) / n)
