"""What models learn from and the matrix helpers every model shares.

``TrainData`` holds the train fold as a scipy CSR matrix (users × items) over internal
indexes, with the string ids of its rows and columns, and — when the data has timestamps —
each user's training interactions in time order (``ordered_histories``), which order-aware
models learn from and score with. ``as_csr``, ``mask_items`` and ``top_k`` are the
vectorised steps between a score matrix and a top-K list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models.event_context import ContextVocab, EventContext
from recsys_engine.models.time_order import time_order

#: Split strategies that keep each user's time order: what is tested comes after what is
#: trained on. Order-aware models refuse the others (random, cold-items).
ORDERED_STRATEGIES = ("temporal", "leave-last")


def split_order_problem(strategy: str) -> str | None:
    """Why a split of ``strategy`` does not suit an order-aware model (None when it does)."""
    if strategy in ORDERED_STRATEGIES:
        return None
    return (
        f"this split is {strategy!r}, which does not keep time order: its test interactions "
        "are not the ones that come after each training history; create a "
        f"{' or '.join(ORDERED_STRATEGIES)} split"
    )


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
        sequence_indptr: CSR-style row pointers of the ordered histories (n_users + 1), or
            None when the order is unknown (no timestamps, or some missing).
        sequence_items: item index of every training interaction, each user's run
            (``sequence_items[sequence_indptr[u]:sequence_indptr[u + 1]]``) oldest first;
            equal timestamps are ordered by item index. None when the order is unknown.
        split_strategy: the strategy of the split the data comes from (``random``,
            ``temporal``, ``leave-last``, ``cold-items``), or None when not from a split.
        context: the context codes of every training event (``event_context``), in the
            order of ``sequence_items`` when the order is known; None when the dataset has
            no context. Its ``vocab`` holds the values seen in training.
        validation_context: the same for the validation events, or None.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    validation: sp.csr_matrix | None = None
    ratings: sp.csr_matrix | None = None
    items: pd.DataFrame | None = None
    sequence_indptr: np.ndarray | None = None
    sequence_items: np.ndarray | None = None
    split_strategy: str | None = None
    context: EventContext | None = None
    validation_context: EventContext | None = None

    @property
    def has_context(self) -> bool:
        """Whether the training events carry context (at least one field)."""
        return self.context is not None and len(self.context.vocab.fields) > 0

    @property
    def has_order(self) -> bool:
        """Whether the time order of each user's training interactions is known."""
        return self.sequence_indptr is not None and self.sequence_items is not None

    def order_problem(self) -> str | None:
        """Why an order-aware model cannot learn from this data (None when it can).

        Two reasons: the order is unknown (no timestamps), or the split does not keep time
        order (a random split scatters the test interactions through each history, so
        "what comes next" is not what is tested).
        """
        if self.split_strategy is not None:
            problem = split_order_problem(self.split_strategy)
            if problem is not None:
                return problem
        if not self.has_order:
            return (
                "the order of the training interactions is unknown: the dataset has no "
                "timestamps (or some are missing); upload it with a timestamp column"
            )
        return None

    def recency(self) -> sp.csr_matrix:
        """Each user's training items ranked by recency, users × items (CSR, float32):
        1 for the most recently interacted item, 2 for the one before, … (an item seen
        several times takes the rank of its last interaction; ranks count distinct items).

        Raises:
            ConfigError: the order is unknown (``order_problem``).
        """
        if not self.has_order:
            raise ConfigError(self.order_problem() or "the order is unknown")
        return recency_matrix(self.sequence_indptr, self.sequence_items, self.n_items)

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
        timestamps: Any | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> TrainData:
        """Build from parallel arrays of string ids (tests, notebooks, new data); with
        ``timestamps`` (numbers, NaN when missing) the ordered histories too, and with
        ``context`` ({field: value per interaction, None = unknown}) the event context."""
        u_codes, u_vocab = _factorize(users, user_ids)
        i_codes, i_vocab = _factorize(items, item_ids)
        w = np.ones(len(u_codes)) if weights is None else np.asarray(weights, dtype=np.float64)
        matrix = sp.csr_matrix(
            (w.astype(np.float32), (u_codes, i_codes)), shape=(len(u_vocab), len(i_vocab))
        )
        matrix.sum_duplicates()
        matrix.sort_indices()
        order = (None, None)
        if timestamps is not None:
            order = ordered_histories(u_codes, i_codes, timestamps, len(u_vocab))
        events = None
        if context:
            values = {f: np.asarray(v, dtype=object) for f, v in context.items()}
            vocab = ContextVocab.from_values(values)
            events = EventContext.build(vocab, u_codes, i_codes, vocab.encode(values), timestamps)
        return cls(
            matrix=matrix,
            user_ids=u_vocab,
            item_ids=i_vocab,
            sequence_indptr=order[0],
            sequence_items=order[1],
            context=events,
        )


def ordered_histories(
    users: Any, items: Any, timestamps: Any, n_users: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Each user's interactions in time order, as CSR-style ``(indptr, items)``.

    One ``lexsort`` by (user, timestamp, item): vectorised, and deterministic when
    timestamps tie (the lower item index comes first). When any timestamp is missing (NaN)
    the order is unknown and both arrays are None: a made-up position would mislead an
    order-aware model.

    Args:
        users: internal user index of each interaction (0 ≤ u < n_users).
        items: internal item index of each interaction.
        timestamps: a number per interaction (e.g. epoch seconds), NaN when missing.
        n_users: number of users (rows of the result).

    Returns:
        ``indptr`` (int64, n_users + 1) and ``items`` (int64, one per interaction), user u's
        run oldest first in ``items[indptr[u]:indptr[u + 1]]``; or ``(None, None)``.
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    ts = np.asarray(timestamps, dtype=np.float64)
    if not len(users) == len(items) == len(ts):
        raise ConfigError(
            f"users, items and timestamps must have the same length (got {len(users)}, "
            f"{len(items)} and {len(ts)})"
        )
    if np.isnan(ts).any():
        return None, None
    order = time_order(users, items, ts)
    indptr = np.zeros(int(n_users) + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=int(n_users)), out=indptr[1:])
    return indptr, items[order]


def recency_matrix(indptr: np.ndarray, items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Recency ranks (1 = most recent distinct item) from ordered histories, users × items.

    Vectorised: the last occurrence of each (user, item) is kept, and its rank is one plus
    the number of the user's distinct items last seen after it.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    n_users = len(indptr) - 1
    users = np.repeat(np.arange(n_users), np.diff(indptr))
    pos = np.arange(len(items))
    # latest first within each user; the first row of each (user, item) is its last time
    order = np.lexsort((-pos, items, users))
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (users[order][1:] != users[order][:-1]) | (items[order][1:] != items[order][:-1])
    last = np.sort(order[keep])  # positions of last occurrences, in (user, time) order
    u_last = users[last]
    counts = np.bincount(u_last, minlength=n_users)
    ends = np.cumsum(counts)
    # rank = (index of the user's last distinct item) − (this index) + 1
    rank = ends[u_last] - np.arange(len(last))
    out = sp.csr_matrix(
        (rank.astype(np.float32), (u_last, items[last])), shape=(n_users, int(n_items))
    )
    out.sort_indices()
    return out


# -- shared array helpers -----------------------------------------------------------------
def as_csr(matrix: Any, n_items: int) -> sp.csr_matrix:
    """``matrix`` as float32 CSR histories, refused unless it has ``n_items`` columns."""
    m = sp.csr_matrix(matrix, dtype=np.float32)
    if m.shape[1] != n_items:
        raise ConfigError(f"histories must have {n_items} item columns (got {m.shape[1]})")
    return m


def weighted_or_binary(histories: sp.csr_matrix, binary: bool) -> sp.csr_matrix:
    """A float32 copy of ``histories``, every stored weight set to 1 when ``binary`` (the
    neighbourhood models' ``binary`` option: whether a rating's size counts)."""
    h = sp.csr_matrix(histories, dtype=np.float32, copy=True)
    if binary:
        h.data[:] = 1.0
    return h


def mask_items(scores: np.ndarray, items: sp.csr_matrix, value: float = -np.inf) -> None:
    """Set ``scores[u, i] = value`` in place for every stored entry (u, i) of ``items``."""
    rows = np.repeat(np.arange(items.shape[0]), np.diff(items.indptr))
    scores[rows, items.indices] = value


def finite_rows(scores: np.ndarray) -> np.ndarray:
    """Whether each row of ``scores`` is free of NaN and ±inf.

    A row's minimum and maximum are both finite exactly when every entry is (NaN carries
    through both), so two reductions replace a boolean copy of the whole block (0.19 GB
    for 1,024 users × 186k items).
    """
    return np.isfinite(scores.min(axis=1)) & np.isfinite(scores.max(axis=1))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns per row, best first, via ``argpartition`` (O(n) per row).

    Entries equal to -inf are returned as item -1 (masked); within the returned list, equal
    scores are ordered by item index.
    """
    n, m = scores.shape
    k_eff = min(k, m)
    if k_eff < m:
        part = _top_columns(scores, k_eff)
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


#: ``_top_columns`` reads the catalogue in blocks of this many items
_TOP_BLOCK = 64


def _top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` largest scores of each row (unordered), ``0 < k < columns``.

    Big catalogues go through block maxima: the catalogue is cut into blocks of 64 items,
    and the k best items lie in the k blocks with the highest maxima (an item outside them
    has at least k better or equal items, one per chosen block), so a partition over the
    block maxima and one over those k × 64 candidates replace a partition of every score
    (7× faster at 186k items; equal up to which of tied scores fill the last places,
    which ``argpartition`` leaves open too). Small catalogues partition directly.
    """
    n, m = scores.shape
    n_blocks = m // _TOP_BLOCK
    if n_blocks <= 4 * k:
        # partition for the k largest without allocating a negated copy of the scores
        return np.argpartition(scores, m - k, axis=1)[:, m - k :]
    full = n_blocks * _TOP_BLOCK
    # a reduction per block in place (2× faster than a max over a reshaped view here)
    block_max = np.maximum.reduceat(scores[:, :full], np.arange(0, full, _TOP_BLOCK), axis=1)
    blocks = np.argpartition(block_max, n_blocks - k, axis=1)[:, n_blocks - k :]
    candidates = (blocks[:, :, None] * _TOP_BLOCK + np.arange(_TOP_BLOCK)).reshape(n, -1)
    if full < m:  # the last, partial block is always a candidate
        tail = np.broadcast_to(np.arange(full, m), (n, m - full))
        candidates = np.hstack([candidates, tail])
    values = np.take_along_axis(scores, candidates, axis=1)
    c = candidates.shape[1]
    best = np.argpartition(values, c - k, axis=1)[:, c - k :]
    return np.take_along_axis(candidates, best, axis=1)


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
