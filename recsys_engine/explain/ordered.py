"""A stored user's time order, kept while the reasons re-score their history.

An order-aware model (``needs_order``, e.g. ``transitions``) scores a stored user with the
recency of each history item, exactly as evaluation does. The reason modules call
``model.score`` and ``model.explain`` on the history and on edited copies of it (the
counterfactual drops items); ``InOrder`` answers those calls with the user's order: the
items left keep their relative order and are ranked again 1, 2, … from the most recent, as
if the dropped ones had never happened. Items outside the user's run (none, for a stored
user's own history) count as the most recent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys_engine.models.base import Explanation, Recommender


class InOrder:
    """``model`` seen through one user's recency ranks (``TrainData.recency()`` row).

    Every other attribute is the model's own.
    """

    def __init__(self, model: Recommender, recency: sp.csr_matrix):
        self.model = model
        row = sp.csr_matrix(recency)[:1]
        self.ranks = np.zeros(row.shape[1], dtype=np.float64)
        self.ranks[row.indices] = row.data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def recency(self, histories: sp.csr_matrix) -> sp.csr_matrix:
        """Recency ranks of each history's items, 1..n per row in the user's order."""
        h = sp.csr_matrix(histories)
        h.sort_indices()
        rows = np.repeat(np.arange(h.shape[0]), np.diff(h.indptr))
        order = np.lexsort((h.indices, self.ranks[h.indices], rows))
        rank = np.empty(len(order), dtype=np.float32)
        rank[order] = np.arange(len(order)) - h.indptr[rows[order]] + 1
        return sp.csr_matrix((rank, h.indices.copy(), h.indptr.copy()), shape=h.shape)

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        return self.model.score_in_order(histories, self.recency(histories), items)

    def explain(self, history: sp.csr_matrix, item: int) -> Explanation:
        return self.model.explain_in_order(history, self.recency(history[:1]), item)
