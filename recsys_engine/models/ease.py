"""EASE (Steck 2019): a linear item-item autoencoder with a closed-form solution.

P = (XᵀX + λI)⁻¹, B = I − P·diag(1/diag P) (so diag B = 0), score(h) = h·B.
The contribution of history item j to item i is h_j · B[j, i] = −h_j · P[j, i] / P[i, i],
so explanations are exact.

When users ≪ items the **dual** (user-space) form avoids the items × items inverse: with
K = λI + XXᵀ (users × users) and W = K⁻¹X, Woodbury gives P = (I − XᵀW)/λ, hence
diag P_i = (1 − Σ_u X_ui W_ui)/λ and h·P = (h − (hXᵀ)W)/λ, and score(h) = h − (h·P)/diag P.
Both forms give the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recsys_engine.config import check_bool, check_choice, check_number
from recsys_engine.models.base import Explanation, ProgressFn, Recommender, StopFn
from recsys_engine.models.data import TrainData, as_csr
from recsys_engine.models.model_config import ModelConfig

SOLVERS = ("auto", "primal", "dual")


@dataclass(frozen=True)
class EASEConfig(ModelConfig):
    """EASE settings.

    Attributes:
        l2: the L2 penalty λ (> 0); larger favours popular items.
        solver: ``primal`` (items × items inverse), ``dual`` (users × users), or ``auto``
            (dual when there are fewer users than items).
        binary: use 0/1 interactions instead of weights.
    """

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"solver": SOLVERS}
    advanced: ClassVar[tuple[str, ...]] = ("solver", "binary")

    l2: float = 200.0
    solver: str = "auto"
    binary: bool = True

    def __post_init__(self) -> None:
        check_number("l2", self.l2, low=0, low_open=True)
        check_choice("solver", self.solver, SOLVERS)
        check_bool("binary", self.binary)


class EASE(Recommender):
    """Embarrassingly shallow autoencoder."""

    name = "ease"
    config_class = EASEConfig
    family = "reference"

    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> EASE:
        x = self._prepare(train.matrix).astype(np.float64)
        n_users, n_items = x.shape
        lam = float(self.config.l2)
        dual = self.config.solver == "dual" or (self.config.solver == "auto" and n_users < n_items)
        self._report(on_progress, should_stop, 0, 2, stage="gram")
        if dual:
            k = (x @ x.T).toarray()
            k[np.diag_indices_from(k)] += lam
            self._report(on_progress, should_stop, 1, 2, stage="solve")
            w = scipy.linalg.solve(k, x.toarray(), assume_a="pos")
            diag_p = (1.0 - np.asarray(x.multiply(w).sum(axis=0)).ravel()) / lam
            self.dual = True
            self.x = x.astype(np.float32).tocsr()
            self.w = w.astype(np.float32)
            self.diag_p = diag_p
            self.b = None
        else:
            g = (x.T @ x).toarray()
            g[np.diag_indices_from(g)] += lam
            self._report(on_progress, should_stop, 1, 2, stage="solve")
            p = scipy.linalg.inv(g, overwrite_a=True)
            diag_p = np.diag(p).copy()
            p /= -diag_p[None, :]
            np.fill_diagonal(p, 0.0)
            self.dual = False
            self.b = p.astype(np.float32)
            self.x = self.w = None
            self.diag_p = diag_p
        self.item_ids = np.asarray(train.item_ids, dtype=object)
        self._report(on_progress, should_stop, 2, 2, stage="done")
        return self

    def _prepare(self, histories: sp.csr_matrix) -> sp.csr_matrix:
        h = sp.csr_matrix(histories, dtype=np.float32, copy=True)
        if self.config.binary:
            h.data[:] = 1.0
        return h

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        h = self._prepare(as_csr(histories, self.n_items))
        cols = slice(None) if items is None else np.asarray(items)
        if not self.dual:
            return np.asarray(h @ self.b[:, cols], dtype=np.float32)
        lam = np.float32(self.config.l2)
        hx = (h @ self.x.T).toarray()
        hp = (h[:, cols].toarray() - hx @ self.w[:, cols]) / lam
        out = h[:, cols].toarray() - hp / self.diag_p[cols].astype(np.float32)
        return out.astype(np.float32, copy=False)

    def _column_b(self, item: int, rows: np.ndarray) -> np.ndarray:
        """B[rows, item] in float64."""
        if not self.dual:
            return self.b[rows, item].astype(np.float64)
        lam = float(self.config.l2)
        xt = self.x.T.tocsr()
        p_col = -(xt[rows] @ self.w[:, item].astype(np.float64)) / lam
        p_col = p_col + (rows == item) / lam
        col = -p_col / self.diag_p[item]
        col[rows == item] = 0.0
        return col

    def explain(self, history: sp.csr_matrix, item: int) -> Explanation:
        """Exact: contribution of history item j = h_j · B[j, item]."""
        h = self._prepare(as_csr(history, self.n_items)[:1])
        parts = h.data.astype(np.float64) * self._column_b(int(item), h.indices)
        return Explanation(
            item=int(item),
            # the same sum as ``score`` in float64 (ranking uses float32)
            score=float(parts.sum()),
            base=0.0,
            history_items=h.indices.copy(),
            contributions=parts,
            exact=True,
        )

    def _arrays(self) -> dict[str, np.ndarray]:
        if not self.dual:
            return {"b": self.b, "diag_p": self.diag_p}
        return {
            "x_data": self.x.data,
            "x_indices": self.x.indices,
            "x_indptr": self.x.indptr,
            "x_shape": np.asarray(self.x.shape),
            "w": self.w,
            "diag_p": self.diag_p,
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.diag_p = arrays["diag_p"]
        if "b" in arrays:
            self.dual, self.b, self.x, self.w = False, arrays["b"], None, None
        else:
            self.dual, self.b = True, None
            self.x = sp.csr_matrix(
                (arrays["x_data"], arrays["x_indices"], arrays["x_indptr"]),
                shape=tuple(arrays["x_shape"]),
            )
            self.w = arrays["w"]
