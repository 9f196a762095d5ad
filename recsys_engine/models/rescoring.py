"""Leave-one-out explanations for models whose score is not additive over the history.

A neural scorer (Mult-VAE, a sequence model) has no exact split of its score into history
items. What it can answer exactly is a counterfactual: how the score of an item changes
when one history item is taken away. ``leave_one_out`` re-scores the history without each
of its items in one batched ``score`` call, so each contribution *is* the score change it
claims (the Explain page badges it *verified by re-scoring*). The contributions need not
add up to the score minus the empty-history score: removing two items together is not the
sum of removing each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from recsys_engine.models.base import Explanation, Recommender


@dataclass(frozen=True)
class RescoredExplanation(Explanation):
    """An explanation whose contributions come from re-scoring (``exact`` is False).

    ``contributions[j] = score − without[j]``, ``without[j]`` the item's score for the
    history without ``history_items[j]``; ``base`` is the item's score for an empty history.
    """

    without: np.ndarray = field(default_factory=lambda: np.zeros(0))


def drop_each(history: sp.csr_matrix) -> sp.csr_matrix:
    """One row per history item: the one-row ``history`` without that item (CSR)."""
    h = sp.csr_matrix(history)[:1]
    n = len(h.indices)
    keep = ~np.eye(n, dtype=bool)
    indices = np.broadcast_to(h.indices, (n, n))[keep]
    data = np.broadcast_to(h.data, (n, n))[keep]
    indptr = np.arange(n + 1, dtype=np.int64) * max(n - 1, 0)
    return sp.csr_matrix((data, indices, indptr), shape=(n, h.shape[1]))


def leave_one_out(model: Recommender, history: sp.csr_matrix, item: int) -> RescoredExplanation:
    """Contribution of each history item to ``item``'s score by re-scoring without it.

    One ``score`` call of |history| + 2 rows (the history, the empty history, each
    leave-one-out copy) restricted to the one item column.
    """
    h = sp.csr_matrix(history, dtype=np.float32)[:1]
    h.sort_indices()
    empty = sp.csr_matrix((1, h.shape[1]), dtype=np.float32)
    batch = sp.vstack([h, empty, drop_each(h)], format="csr")
    scores = np.asarray(model.score(batch, np.array([int(item)])), dtype=np.float64)[:, 0]
    score, base, without = float(scores[0]), float(scores[1]), scores[2:]
    return RescoredExplanation(
        item=int(item),
        score=score,
        base=base,
        history_items=h.indices.copy(),
        contributions=score - without,
        exact=False,
        without=without,
    )
