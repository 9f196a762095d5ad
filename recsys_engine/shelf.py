"""The new-arrivals shelf: how well a model ranks only the items new in the test period.

On a cold-items split a merchandiser asks "which of this week's new items do we show this
user?"; ``evaluate`` stores these metrics next to the all-items ones (issue 14).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from recsys_engine import metrics as m
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import finite_rows, top_k

if TYPE_CHECKING:  # evaluation imports this module
    from recsys_engine.split_data import SplitData


def new_arrivals(data: SplitData) -> np.ndarray:
    """Item indexes that are new in the test period: in the test fold, never in training.

    On a cold-items split these are the held-out items; on other splits there are
    usually none (or a few items first seen after the cut), and no shelf is evaluated.
    """
    train_items = np.diff(data.train.matrix.tocsc().indptr) > 0
    seen_items = np.diff(data.seen.tocsc().indptr) > 0
    test_items = np.unique(data.test.indices)
    return test_items[~train_items[test_items] & ~seen_items[test_items]]


def shelf_metrics(
    model: Recommender,
    data: SplitData,
    users: np.ndarray,
    ks: tuple[int, ...],
    batch_size: int = 1024,
    recency: sp.csr_matrix | None = None,
    contexts: np.ndarray | None = None,
) -> dict[tuple[str, int], np.ndarray]:
    """The new-arrivals shelf: rank only the new items (``new_arrivals``) for each test user.

    A merchandiser's question on a cold-items split is "which of this week's new items do
    we show this user?": the candidates are the new items only, the relevant ones are the
    user's test items among them. For user u with relevant new items T_u and shelf L_u
    (the top K of the new items by the model's score), the metrics are the usual
    ranking formulas over that shelf: shelf_recall@K = |L_u ∩ T_u| / |T_u|,
    shelf_hitrate@K = 1[|L_u ∩ T_u| > 0] and shelf_ndcg@K = DCG/IDCG over L_u.
    A random shelf has expected recall min(K, m) / m for m new items.

    ``recency`` is the time order ``evaluate`` gives order-aware models (None for others),
    so the shelf is scored exactly as the all-items ranking is; likewise ``contexts``, the
    event context codes of each of ``users`` for context-aware models (None for others).

    Returns:
        {("shelf_ndcg" | "shelf_recall" | "shelf_hitrate", k): values aligned with
        ``users``}, NaN for users without a relevant new item (and an empty dict when the
        split has fewer new items than 2, where a shelf means nothing). A user the model
        cannot score gets 0, as in the all-items ranking.
    """
    new = new_arrivals(data)
    if len(new) < 2:
        return {}
    test_new = data.test[:, new].tocsr()
    n_rel = np.diff(test_new.indptr)[users]
    has = n_rel > 0
    kmax = min(max(ks), len(new))
    hits = np.zeros((len(users), kmax), dtype=bool)
    with model.reusing_score_block():  # each batch's scores are used before the next
        for start in range(0, len(users), batch_size):
            stop = min(start + batch_size, len(users))
            batch = users[start:stop]
            histories = data.inputs_for(model)[batch]
            # scored the way the all-items ranking is (in time order for order-aware models)
            order = None if recency is None else recency[batch]
            if contexts is not None:
                raw = model.score_in_context(histories, order, contexts[start:stop], new)
            elif order is None:
                raw = model.score(histories, new)
            else:
                raw = model.score_in_order(histories, order, new)
            scores = np.asarray(raw, dtype=np.float32)
            ok = model.can_score(histories) & finite_rows(scores)
            local, _ = top_k(scores, kmax)
            local[~ok] = -1
            hits[start:stop] = m.hit_matrix(local, test_new[batch])
    out: dict[tuple[str, int], np.ndarray] = {}
    for k in ks:
        kk = min(k, kmax)
        sub = hits[:, :kk]
        for name, values in (
            ("shelf_ndcg", m.ndcg_at_k(sub, n_rel, kk)),
            ("shelf_recall", m.recall_at_k(sub, n_rel, kk)),
            ("shelf_hitrate", m.hit_rate_at_k(sub, kk)),
        ):
            out[(name, k)] = np.where(has, values, np.nan)
    return out
