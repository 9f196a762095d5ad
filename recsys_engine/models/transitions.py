"""Transitions: the reference model for ordered data — what usually comes next.

Fit counts, over every user's training interactions in time order, how often item j
directly follows item i: C[i, j] (a user's run a, b, c adds a→b and b→c; repeats i→i
are skipped, they say nothing about what comes next). Each source row is normalised to a
distribution, P[i, j] = C[i, j] / Σ_j' C[i, j'] ("after i, the share of next steps that
went to j"), so a rarely seen item weighs as much as a popular one as a source.

A history scores item j by the successors of its ``n_last`` most recent items:

    score(j) = Σ_{r=1..n_last} w_r · P[s_r, j],   w_r = 1/r (``inverse_rank``) or 1 (``equal``)

where s_r is the r-th most recent distinct history item. The sum is over history items,
so the explanation is exact: item s_r contributes w_r · P[s_r, j] ("because you just
interacted with X"), older items contribute 0.

The order comes from ``recency`` (``score_in_order``; evaluation passes it). A history
without order (an ad-hoc one on the Explain page, ``score`` alone) counts every item as the
most recent (w = 1 each): with no order there is no "last few" to pick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_engine.config import check_choice, check_number
from recsys_engine.errors import ConfigError
from recsys_engine.models.base import Explanation, ProgressFn, Recommender, StopFn
from recsys_engine.models.data import TrainData, as_csr
from recsys_engine.models.model_config import ModelConfig
from recsys_engine.models.search_space import Choice, Param, Range

WEIGHTINGS = ("inverse_rank", "equal")


@dataclass(frozen=True)
class TransitionsConfig(ModelConfig):
    """Transitions settings.

    Attributes:
        n_last: how many of the user's most recent items vote for what comes next (≥ 1).
        weighting: the vote of the r-th most recent item: ``inverse_rank`` 1/r (the latest
            counts most), ``equal`` 1 for each of the last ``n_last``.
    """

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"weighting": WEIGHTINGS}
    search_space: ClassVar[dict[str, Param]] = {
        "n_last": Range(1, 20, integer=True),
        "weighting": Choice(WEIGHTINGS),
    }

    n_last: int = 5
    weighting: str = "inverse_rank"

    def __post_init__(self) -> None:
        check_number("n_last", self.n_last, low=1, high=1000, integer=True)
        check_choice("weighting", self.weighting, WEIGHTINGS)


def successor_matrix(indptr: np.ndarray, items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Row-normalised successor counts P (items × items, float32 CSR) from ordered
    histories (``TrainData.sequence_indptr``/``sequence_items``); rows of items that are
    never followed by anything are empty."""
    indptr = np.asarray(indptr, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if len(items) < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    src, dst = items[:-1], items[1:]
    # a pair crosses into the next user when its source is a user's last interaction
    same_user = np.ones(len(src), dtype=bool)
    ends = indptr[1:-1] - 1
    same_user[ends[(ends >= 0) & (ends < len(src))]] = False
    keep = same_user & (src != dst)
    counts = sp.csr_matrix(
        (np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(n_items, n_items)
    )
    counts.sum_duplicates()
    totals = np.asarray(counts.sum(axis=1)).ravel()
    rows = np.repeat(np.arange(n_items), np.diff(counts.indptr))
    counts.data /= totals[rows]
    out = counts.astype(np.float32)
    out.sort_indices()
    return out


class Transitions(Recommender):
    """Recency-weighted successor counts of the user's last few items."""

    name = "transitions"
    config_class = TransitionsConfig
    family = "sequence"
    needs_order = True

    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> Transitions:
        """Count successors in the ordered training histories.

        Raises:
            ConfigError: the order is unknown or the split does not keep it.
        """
        problem = train.order_problem()
        if problem is not None:
            raise ConfigError(f"model {self.name!r} learns from the order of events, but {problem}")
        self._report(on_progress, should_stop, 0, 1, stage="count")
        self.p = successor_matrix(train.sequence_indptr, train.sequence_items, train.n_items)
        self.item_ids = np.asarray(train.item_ids, dtype=object)
        self._report(on_progress, should_stop, 1, 1, stage="done")
        return self

    def vote_weights(
        self, histories: sp.csr_matrix, recency: sp.csr_matrix | None
    ) -> sp.csr_matrix:
        """Each history item's vote w (n × n_items CSR over the history's items): w_r for
        the r-th most recent of the last ``n_last``, 0 for older ones; 1 for every item
        when the order is unknown."""
        h = as_csr(histories, self.n_items)
        weights = h.copy()
        weights.data[:] = 1.0
        if recency is None:
            return weights
        r = as_csr(recency, self.n_items)
        if r.shape[0] != h.shape[0]:
            raise ConfigError(
                f"recency must have one row per history ({h.shape[0]}; got {r.shape[0]})"
            )
        # the rank of each history item (0 where the recency matrix has none)
        ranks = weights.multiply(r).tocsr()
        ranks.sort_indices()
        rank = ranks.data
        if self.config.weighting == "inverse_rank":
            vote = np.divide(1.0, rank, out=np.zeros_like(rank), where=rank > 0)
        else:
            vote = (rank > 0).astype(np.float32)
        vote[rank > self.config.n_last] = 0.0
        ranks.data = vote.astype(np.float32)
        ranks.eliminate_zeros()
        return ranks

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Scores of histories without order: every history item votes with weight 1."""
        return self.score_in_order(histories, None, items)

    def score_in_order(
        self,
        histories: sp.csr_matrix,
        recency: sp.csr_matrix | None,
        items: np.ndarray | None = None,
    ) -> np.ndarray:
        """score(j) = Σ_r w_r · P[s_r, j] over the last ``n_last`` items (see the module)."""
        self._check_fitted()
        w = self.vote_weights(histories, recency)
        p = self.p if items is None else self.p[:, np.asarray(items)]
        return np.asarray((w @ p).toarray(), dtype=np.float32)

    def explain(self, history: sp.csr_matrix, item: int) -> Explanation:
        """Exact, for a history without order (every item votes with weight 1)."""
        return self.explain_in_order(history, None, item)

    def explain_in_order(
        self, history: sp.csr_matrix, recency: sp.csr_matrix | None, item: int
    ) -> Explanation:
        """Exact: history item s contributes w_s · P[s, item]; the parts sum to the score."""
        self._check_fitted()
        h = as_csr(history, self.n_items)[:1]
        h.sort_indices()
        w = self.vote_weights(h, None if recency is None else as_csr(recency, self.n_items)[:1])
        votes = np.asarray(w[0, h.indices].toarray()).ravel()
        column = np.asarray(self.p[h.indices, int(item)].toarray()).ravel()
        return Explanation.linear(item, h.indices, votes, column)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "p_data": self.p.data,
            "p_indices": self.p.indices,
            "p_indptr": self.p.indptr,
            "p_shape": np.asarray(self.p.shape),
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.p = sp.csr_matrix(
            (arrays["p_data"], arrays["p_indices"], arrays["p_indptr"]),
            shape=tuple(arrays["p_shape"]),
        )
