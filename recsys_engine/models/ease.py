"""EASE (Steck 2019): a linear item-item autoencoder with a closed-form solution.

P = (XᵀX + λI)⁻¹, B = I − P·diag(1/diag P) (so diag B = 0), score(h) = h·B.
The contribution of history item j to item i is h_j · B[j, i] = −h_j · P[j, i] / P[i, i],
so explanations are exact.

When users ≪ items the **dual** (user-space) form avoids the items × items inverse: with
K = λI + XXᵀ (users × users) and W = K⁻¹X, Woodbury gives P = (I − XᵀW)/λ, hence
diag P_i = (1 − Σ_u X_ui W_ui)/λ and h·P = (h − (hXᵀ)W)/λ, and score(h) = h − (h·P)/diag P.
Both forms give the same scores.

Both forms hold dense matrices: the primal one items × items, the dual one users × users
plus users × items. ``fit`` refuses, before allocating anything, when the chosen form would
need more than ``memory_limit()`` (half the machine's memory): EASE cannot run on a
real-sized catalogue (10⁵–10⁶ items) and Item-kNN or the two-tower models are the
alternatives there. ``auto`` takes the other form when only that one fits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recsys_engine.config import check_bool, check_choice, check_number
from recsys_engine.errors import ConfigError
from recsys_engine.models.base import Explanation, ProgressFn, Recommender, StopFn
from recsys_engine.models.data import TrainData, as_csr, weighted_or_binary
from recsys_engine.models.model_config import ModelConfig
from recsys_engine.models.search_space import Choice, Param, Range

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
    search_space: ClassVar[dict[str, Param]] = {
        "l2": Range(1.0, 1e5, log=True),
        "binary": Choice((True, False)),
    }

    l2: float = 200.0
    solver: str = "auto"
    binary: bool = True

    def __post_init__(self) -> None:
        check_number("l2", self.l2, low=0, low_open=True)
        check_choice("solver", self.solver, SOLVERS)
        check_bool("binary", self.binary)


def memory_limit() -> int:
    """Bytes EASE may hold in dense matrices: half this machine's physical memory, so a
    fit never pushes the machine into swap or the out-of-memory killer."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def dense_bytes(n_users: int, n_items: int, dual: bool) -> int:
    """Peak bytes of EASE's dense matrices: primal, the float64 Gram matrix and its inverse
    plus the float32 B (20 bytes × items²); dual, the float64 users × users kernel plus
    X, W (float64) and the float32 W kept for scoring (8 × users² + 20 × users × items)."""
    u, n = int(n_users), int(n_items)
    return 8 * u * u + 20 * u * n if dual else 20 * n * n


def choose_solver(solver: str, n_users: int, n_items: int) -> bool:
    """Whether to use the dual form (``auto``: dual when users < items, or when only the
    dual form fits in ``memory_limit()``).

    Raises:
        ConfigError: the form to use would not fit in memory (one sentence: what it needs,
            the limit, and what to use instead).
    """
    if solver == "auto":
        dual = n_users < n_items
        if dense_bytes(n_users, n_items, dual) > memory_limit():
            dual = dense_bytes(n_users, n_items, True) < dense_bytes(n_users, n_items, False)
    else:
        dual = solver == "dual"
    need, limit = dense_bytes(n_users, n_items, dual), memory_limit()
    if need > limit:
        shape = "users × users" if dual else "items × items"
        raise ConfigError(
            f"EASE ({'dual' if dual else 'primal'} solver) on {n_users:,} users × "
            f"{n_items:,} items would need about {need / 2**30:,.1f} GiB for its dense "
            f"{shape} matrices, above the {limit / 2**30:,.1f} GiB limit (half this "
            "machine's memory); use Item-kNN or Two-tower for a catalogue this large"
        )
    return dual


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
        n_users, n_items = train.matrix.shape
        dual = choose_solver(self.config.solver, n_users, n_items)
        x = self._prepare(train.matrix).astype(np.float64)
        lam = float(self.config.l2)
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
        return weighted_or_binary(histories, self.config.binary)

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
        return Explanation.linear(item, h.indices, h.data, self._column_b(int(item), h.indices))

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
