"""ItemKNN: item-based nearest neighbours with shrunk cosine similarity.

s(j, i) = ⟨x_j, x_i⟩ / (‖x_j‖·‖x_i‖ + shrinkage), x_i the item's column of the training
matrix. Each candidate item i keeps only its ``neighbours`` most similar items j (the
classic item-based neighbourhood: column i of S), and the score is additive over the
history: score(u, i) = Σ_{j ∈ N(i)} h_uj · s(j, i), so "because you interacted with j"
explanations are exact.

Similarities are computed a block of candidate items at a time and only the top
``neighbours`` per item are kept (sparse), so memory never holds items × items. Up to
``DENSE_ITEMS`` items a block is a dense block × items array (fast on small catalogues);
above, a block is the sparse co-occurrence product, so time and memory follow the
co-occurring pairs instead of items² (issue 14).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_engine.config import check_bool, check_number
from recsys_engine.models.base import Explanation, ProgressFn, Recommender, StopFn
from recsys_engine.models.data import TrainData, as_csr, weighted_or_binary
from recsys_engine.models.model_config import ModelConfig
from recsys_engine.models.search_space import Choice, Param, Range

#: Dense cells per similarity block: bounds fit memory to ~16 bytes × this (~130 MB).
_BLOCK_CELLS = 8_000_000
#: Catalogues up to this size use dense similarity blocks; bigger ones sparse blocks.
DENSE_ITEMS = 20_000


@dataclass(frozen=True)
class ItemKNNConfig(ModelConfig):
    """ItemKNN settings.

    Attributes:
        neighbours: most similar items kept per candidate item.
        shrinkage: added to the cosine denominator; damps similarities of rare items
            (0 = plain cosine; ~10 helps on long-tail catalogues such as Last.fm).
        binary: use 0/1 interactions instead of weights for similarities and scores.
    """

    advanced: ClassVar[tuple[str, ...]] = ("binary",)
    presets: ClassVar[dict[str, dict]] = {"quick": {"neighbours": 50}}
    search_space: ClassVar[dict[str, Param]] = {
        "neighbours": Range(10, 1000, log=True, integer=True),
        "shrinkage": Range(0.0, 200.0),
        "binary": Choice((True, False)),
    }

    neighbours: int = 200
    shrinkage: float = 0.0
    binary: bool = True

    def __post_init__(self) -> None:
        check_number("neighbours", self.neighbours, low=1, integer=True)
        check_number("shrinkage", self.shrinkage, low=0)
        check_bool("binary", self.binary)


class ItemKNN(Recommender):
    """Item-based k-nearest-neighbours recommender."""

    name = "itemknn"
    config_class = ItemKNNConfig
    family = "reference"

    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> ItemKNN:
        x = self._prepare(train.matrix).astype(np.float32).tocsc()
        xt = x.T.tocsr()
        n_users, n_items = x.shape
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0), dtype=np.float32).ravel())
        keep = min(self.config.neighbours, max(n_items - 1, 1))
        self.item_ids = np.asarray(train.item_ids, dtype=object)
        if n_items > DENSE_ITEMS:
            self.similarity = sparse_top_k(
                xt,
                norms,
                keep,
                float(self.config.shrinkage),
                self._block_reporter(on_progress, should_stop),
            )
            return self
        block = max(1, _BLOCK_CELLS // max(n_items, n_users, 1))
        # zero similarities get distinct negative keys: argpartition is slow on mass ties
        zero_key = -(np.arange(n_items, dtype=np.float32) + 1) / n_items
        shrink = np.float32(self.config.shrinkage + 1e-12)
        rows, cols, vals = [], [], []
        n_blocks = -(-n_items // block)
        for b, start in enumerate(range(0, n_items, block)):
            stop = min(start + block, n_items)
            # co-occurrence of the block's items with every item: sparse @ dense block
            sim = np.asarray(xt @ x[:, start:stop].toarray()).T
            denom = np.outer(norms[start:stop], norms)
            denom += shrink
            sim /= denom
            del denom
            sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
            if keep < n_items:
                key = np.where(sim > 0, sim, zero_key)
                idx = np.argpartition(key, n_items - keep, axis=1)[:, n_items - keep :]
                del key
            else:
                idx = np.broadcast_to(np.arange(n_items), sim.shape)
            val = np.take_along_axis(sim, idx, axis=1)
            nz = val > 0
            # row i of the block holds candidate i's neighbours j: store at S[j, i]
            cols.append((np.arange(start, stop)[:, None] + np.zeros_like(idx))[nz])
            rows.append(idx[nz])
            vals.append(val[nz])
            self._report(on_progress, should_stop, b + 1, n_blocks, stage="similarities")
        sim_matrix = sp.csr_matrix(
            (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
        )
        sim_matrix.sort_indices()
        self.similarity = sim_matrix
        self.item_ids = np.asarray(train.item_ids, dtype=object)
        return self

    def _block_reporter(self, on_progress, should_stop):
        def report(done: int, total: int) -> None:
            self._report(on_progress, should_stop, done, total, stage="similarities")

        return report

    def _prepare(self, histories: sp.csr_matrix) -> sp.csr_matrix:
        return weighted_or_binary(histories, self.config.binary)

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        h = self._prepare(as_csr(histories, self.n_items))
        sim = self.similarity if items is None else self.similarity[:, np.asarray(items)]
        return (h @ sim).toarray().astype(np.float32, copy=False)

    def explain(self, history: sp.csr_matrix, item: int) -> Explanation:
        """Exact: contribution of history item j = h_j · S[j, item]."""
        h = self._prepare(as_csr(history, self.n_items)[:1])
        sims = self.similarity[h.indices][:, [int(item)]].toarray().ravel()
        return Explanation.linear(item, h.indices, h.data, sims)

    def _arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {
            "data": s.data,
            "indices": s.indices,
            "indptr": s.indptr,
            "shape": np.asarray(s.shape),
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.similarity = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])
        )


def sparse_top_k(
    xt: sp.csr_matrix,
    norms: np.ndarray,
    keep: int,
    shrinkage: float,
    report=None,
    block_pairs: int = 4_000_000,
) -> sp.csr_matrix:
    """S with column i = the ``keep`` most similar items j of item i (positive
    similarities only), computed from sparse co-occurrence blocks.

    ``xt`` is items × users. A block of candidate items i takes its co-occurrence rows
    C = X_iᵀX (sparse: only pairs of items sharing a user), s = C / (‖x_i‖‖x_j‖ +
    shrinkage), the diagonal dropped, then each row's top ``keep`` by value (ties by the
    lower item index). Blocks are sized so a block's estimated pairs stay under
    ``block_pairs``.
    """
    n_items = xt.shape[0]
    x = xt.T.tocsr()
    # pairs produced by item i: Σ over its users of their history lengths
    user_len = np.diff(x.indptr).astype(np.int64)
    pairs = np.asarray(xt @ user_len).ravel() if xt.nnz else np.zeros(n_items)
    bounds = [0]
    run = 0
    for i, p in enumerate(pairs):
        run += int(p)
        if run > block_pairs and i + 1 > bounds[-1]:
            bounds.append(i + 1)
            run = 0
    if bounds[-1] != n_items:
        bounds.append(n_items)
    shrink = np.float32(shrinkage + 1e-12)
    rows, cols, vals = [], [], []
    for b, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        co = (xt[start:stop] @ x).tocoo()
        cand = co.row.astype(np.int64) + start
        sim = co.data / (norms[cand] * norms[co.col] + shrink)
        ok = (co.col != cand) & (sim > 0)
        cand, other, sim = cand[ok], co.col[ok].astype(np.int64), sim[ok].astype(np.float32)
        order = np.lexsort((other, -sim, cand))
        cand, other, sim = cand[order], other[order], sim[order]
        first = np.searchsorted(cand, cand, side="left")
        top = np.arange(len(cand)) - first < keep
        # candidate i's neighbours j are stored at S[j, i]
        rows.append(other[top])
        cols.append(cand[top])
        vals.append(sim[top])
        if report is not None:
            report(b + 1, len(bounds) - 1)
    empty = np.zeros(0, np.int64)
    matrix = sp.csr_matrix(
        (
            np.concatenate(vals or [np.zeros(0, np.float32)]),
            (np.concatenate(rows or [empty]), np.concatenate(cols or [empty])),
        ),
        shape=(n_items, n_items),
    )
    matrix.sort_indices()
    return matrix
