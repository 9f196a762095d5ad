"""Validation metrics the Keras models compute in numpy between epochs (early stopping)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from recsys_engine.metrics import hit_matrix, ndcg_at_k
from recsys_engine.models.data import mask_items, top_k

#: most scores held at once (users × catalogue) while validating: 64 MB of float32, so a
#: 186k-item catalogue validates 90 users at a time instead of a 0.38 GB block of 512
SCORE_BLOCK = 1 << 24
#: the same for a model that writes every batch into one kept block (``reusing_score_block``):
#: 256 MB, 360 users at 186k items; the product is then 1.5× faster per user than in
#: blocks of 90, and no block is allocated again (BENCHMARKS.md)
REUSED_SCORE_BLOCK = 1 << 26


def ndcg_at_10(
    score: Callable[[np.ndarray, sp.csr_matrix], np.ndarray],
    histories: sp.csr_matrix,
    relevant: sp.csr_matrix,
    max_users: int = 2000,
    batch_size: int = 512,
    max_block: int | None = None,
) -> float:
    """Mean NDCG@10 of ``score(user_indexes, histories)`` on the users with relevant items
    (full ranking, history items excluded); at most ``max_users`` users (the first ones)
    to keep it cheap. Users are scored ``batch_size`` at a time, fewer when the catalogue
    is big (at most ``max_block`` scores at once, ``SCORE_BLOCK`` when None); each user's
    value is the same."""
    max_block = SCORE_BLOCK if max_block is None else max_block
    batch_size = max(1, min(batch_size, max_block // max(1, histories.shape[1])))
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)[:max_users]
    if len(users) == 0:
        return 0.0
    values = []
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        h = histories[batch]
        s = np.asarray(score(batch, h), dtype=np.float32)
        if not s.flags.writeable:  # e.g. a view of a tensor's buffer: masked in place below
            s = s.copy()
        mask_items(s, h)
        items, _ = top_k(s, 10)
        hits = hit_matrix(items, relevant[batch])
        values.append(ndcg_at_k(hits, np.diff(relevant[batch].indptr), 10))
    return float(np.concatenate(values).mean())
