"""Hybrid two-tower (DESIGN §4): ID embeddings plus a content tower, scores additive.

The item's input and output vectors are the concatenation of an ID part (items with
training interactions only) and a linear projection of its content features; the user is
the weighted mean of the history's input vectors. Hence

    score(h, i) = b_i + Σ_j w̃_j ⟨id_in_j, id_out_i⟩ + Σ_j w̃_j ⟨c_in_j, c_out_i⟩
                = base + collaborative + content,

and ``explain`` returns both parts and each history item's exact contribution. Training
drops an item's ID part with probability ``id_dropout`` so the content part learns to score
items on its own — which is all a cold item has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import scipy.sparse as sp

from recsys_engine.config import check_choice, check_number
from recsys_engine.models.content import ContentConfig, content_matrix
from recsys_engine.models.data import TrainData
from recsys_engine.models.pooled import PooledHistoryModel
from recsys_engine.models.search_space import Param, Range

NEW_ITEM_PRIORS = ("median", "observed")


@dataclass(frozen=True)
class HybridConfig(ContentConfig):
    """Hybrid settings (plus the content, two-tower and training settings).

    Attributes:
        dim: size of the ID embeddings.
        content_dim: size of the content projection.
        id_dropout: training-time probability of dropping an item's ID part.
        new_item_prior: how the popularity prior treats items nobody interacted with in
            training (new arrivals): ``median`` scores them as a typical item, so their
            content decides; ``observed`` as the least popular (buries them).
        new_item_negatives: as for the content model, but off by default: items nobody
            interacted with in training stay out of the full softmax's denominator (the ID
            part keeps the hybrid's random-split accuracy; BENCHMARKS.md, issue 14).
    """

    presets: ClassVar[dict[str, dict]] = {
        "quick": {"epochs": 10, "patience": 0, "ema": 0.0, "dim": 128, "content_dim": 32},
        "thorough": {"epochs": 150, "patience": 25, "lr_decay": 0.98},
    }
    #: its own defaults already serve new arrivals (``new_item_negatives`` off, the median
    #: prior); the content model's cold-items settings would change its ID part
    split_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    split_notes: ClassVar[dict[str, str]] = {}
    advanced: ClassVar[tuple[str, ...]] = (
        *ContentConfig.advanced,
        "id_dropout",
        "new_item_prior",
    )
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        **ContentConfig.choices,
        "new_item_prior": NEW_ITEM_PRIORS,
    }
    #: runs stored before the setting existed scored new items with the observed prior
    stored_defaults: ClassVar[dict] = {
        **ContentConfig.stored_defaults,
        "new_item_prior": "observed",
    }
    search_space: ClassVar[dict[str, Param]] = {
        **ContentConfig.search_space,
        "dim": Range(32, 1024, log=True, integer=True),
        "content_dim": Range(16, 256, log=True, integer=True),
        "id_dropout": Range(0.0, 0.8),
    }

    # the two-tower's tuned settings (see pooled_config.TwoTowerConfig) plus the content part
    epochs: int = 80
    learning_rate: float = 1e-2
    lr_decay: float = 0.96
    patience: int = 15
    smoothing: int = 5
    min_improvement: float = 0.005
    ema: float = 0.99
    dim: int = 512
    dropout: float = 0.5
    l2: float = 1e-4
    popularity_prior: float = 0.6
    content_dim: int = 64
    id_dropout: float = 0.2
    new_item_prior: str = "median"
    new_item_negatives: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("content_dim", self.content_dim, low=1, high=4096, integer=True)
        check_number("id_dropout", self.id_dropout, low=0, high=0.95)
        check_choice("new_item_prior", self.new_item_prior, NEW_ITEM_PRIORS)

    def tower_sizes(self) -> tuple[int, int, float]:
        return int(self.dim), int(self.content_dim), float(self.id_dropout)


class Hybrid(PooledHistoryModel):
    """ID + content two-tower with an exact collaborative/content score breakdown."""

    name = "hybrid"
    config_class = HybridConfig
    family = "hybrid"

    def _features(self, train: TrainData) -> sp.csr_matrix | None:
        # without item metadata the hybrid degrades to the ID two-tower
        return content_matrix(self, train, required=False)

    def _new_item_negatives(self) -> bool:
        return bool(self.config.new_item_negatives)
