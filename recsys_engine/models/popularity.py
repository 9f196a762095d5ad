"""Popularity: every user gets the most popular training items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_engine.config import check_bool
from recsys_engine.models.base import Explanation, ProgressFn, Recommender, StopFn
from recsys_engine.models.data import TrainData, as_csr
from recsys_engine.models.model_config import ModelConfig
from recsys_engine.models.search_space import Choice, Param


@dataclass(frozen=True)
class PopularityConfig(ModelConfig):
    """Popularity settings.

    Attributes:
        weighted: rank by summed interaction weight instead of the number of users.
    """

    search_space: ClassVar[dict[str, Param]] = {"weighted": Choice((False, True))}

    weighted: bool = False

    def __post_init__(self) -> None:
        check_bool("weighted", self.weighted)


class Popularity(Recommender):
    """score(u, i) = number of training users of i (or their summed weight)."""

    name = "popularity"
    config_class = PopularityConfig
    family = "reference"

    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> Popularity:
        x = train.matrix.tocsc()
        if self.config.weighted:
            counts = np.asarray(x.sum(axis=0)).ravel()
        else:
            counts = np.diff(x.indptr).astype(np.float64)
        self.counts = counts.astype(np.float32)
        self.item_ids = np.asarray(train.item_ids, dtype=object)
        self._report(on_progress, should_stop, 1, 1)
        return self

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        n = sp.csr_matrix(histories).shape[0]
        row = self.counts if items is None else self.counts[np.asarray(items)]
        return np.tile(row, (n, 1))

    def can_score(self, histories: sp.csr_matrix) -> np.ndarray:
        return np.ones(sp.csr_matrix(histories).shape[0], dtype=bool)

    def explain(self, history: sp.csr_matrix, item: int) -> Explanation:
        """The whole score is the item's popularity (``base``); exact."""
        history = as_csr(history, self.n_items)[:1]
        s = float(self.counts[int(item)])
        return Explanation(
            item=int(item),
            score=s,
            base=s,
            history_items=history.indices.copy(),
            contributions=np.zeros(len(history.indices)),
            exact=True,
        )

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.counts = arrays["counts"].astype(np.float32)
