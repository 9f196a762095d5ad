"""What models learn from and the matrix helpers every model shares.

``TrainData`` holds the train fold as a scipy CSR matrix (users × items) over internal
indexes, with the string ids of its rows and columns; ``as_csr``, ``mask_items`` and
``top_k`` are the vectorised steps between a score matrix and a top-K list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine.errors import ConfigError


@dataclass
class TrainData:
    """Everything a model may learn from.

    Attributes:
        matrix: train fold, CSR users × items of weights (float32), sorted indices.
        user_ids: string id of each row (internal user index → id).
        item_ids: string id of each column; the whole catalogue.
        validation: validation fold in the same shape, or None.
        ratings: explicit ratings of the train fold in the same shape (for rating tasks),
            or None.
        items: item metadata (``item_id``, title, text, categories, numeric) or None.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    validation: sp.csr_matrix | None = None
    ratings: sp.csr_matrix | None = None
    items: pd.DataFrame | None = None

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    def user_index(self, ids: Any) -> np.ndarray:
        """Internal indexes of user ids (-1 for unknown)."""
        return pd.Index(self.user_ids).get_indexer(np.asarray(ids, dtype=object))

    def item_index(self, ids: Any) -> np.ndarray:
        """Internal indexes of item ids (-1 for unknown)."""
        return pd.Index(self.item_ids).get_indexer(np.asarray(ids, dtype=object))

    @classmethod
    def from_interactions(
        cls,
        users: Any,
        items: Any,
        weights: Any | None = None,
        *,
        user_ids: Any | None = None,
        item_ids: Any | None = None,
    ) -> TrainData:
        """Build from parallel arrays of string ids (tests, notebooks, new data)."""
        u_codes, u_vocab = _factorize(users, user_ids)
        i_codes, i_vocab = _factorize(items, item_ids)
        w = np.ones(len(u_codes)) if weights is None else np.asarray(weights, dtype=np.float64)
        matrix = sp.csr_matrix(
            (w.astype(np.float32), (u_codes, i_codes)), shape=(len(u_vocab), len(i_vocab))
        )
        matrix.sum_duplicates()
        matrix.sort_indices()
        return cls(matrix=matrix, user_ids=u_vocab, item_ids=i_vocab)


# -- shared array helpers -----------------------------------------------------------------
def as_csr(matrix: Any, n_items: int) -> sp.csr_matrix:
    """``matrix`` as float32 CSR histories, refused unless it has ``n_items`` columns."""
    m = sp.csr_matrix(matrix, dtype=np.float32)
    if m.shape[1] != n_items:
        raise ConfigError(f"histories must have {n_items} item columns (got {m.shape[1]})")
    return m


def mask_items(scores: np.ndarray, items: sp.csr_matrix, value: float = -np.inf) -> None:
    """Set ``scores[u, i] = value`` in place for every stored entry (u, i) of ``items``."""
    rows = np.repeat(np.arange(items.shape[0]), np.diff(items.indptr))
    scores[rows, items.indices] = value


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns per row, best first, via ``argpartition`` (O(n) per row).

    Entries equal to -inf are returned as item -1 (masked); within the returned list, equal
    scores are ordered by item index.
    """
    n, m = scores.shape
    k_eff = min(k, m)
    if k_eff < m:
        # partition for the k largest without allocating a negated copy of the scores
        part = np.argpartition(scores, m - k_eff, axis=1)[:, m - k_eff :]
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    items = np.take_along_axis(part, order, axis=1)
    top = np.take_along_axis(part_scores, order, axis=1)
    items = np.where(np.isneginf(top), -1, items)
    if k_eff < k:
        pad = k - k_eff
        items = np.hstack([items, np.full((n, pad), -1, dtype=items.dtype)])
        top = np.hstack([top, np.full((n, pad), -np.inf, dtype=top.dtype)])
    return items, top


def _factorize(values: Any, vocab: Any | None) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=object)
    if vocab is None:
        codes, uniques = pd.factorize(values, sort=True)
        return codes, np.asarray(uniques, dtype=object)
    vocab = np.asarray(vocab, dtype=object)
    codes = pd.Index(vocab).get_indexer(values)
    if (codes < 0).any():
        raise ConfigError(f"id {values[codes < 0][0]!r} is not in the given vocabulary")
    return codes, vocab
