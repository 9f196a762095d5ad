"""Content two-tower (DESIGN §4): the item tower sees content features only.

Item vectors are linear projections of the item's sparse content features (TF-IDF of title
and text, multi-hot categories, standardised numeric columns — ``recsys_engine.features``);
the user is the weighted mean of their history's input vectors. No item ID is learned, so
items nobody has interacted with are scored like any other, and explanations are exact
(see ``two_tower``). A linear projection beat a ReLU MLP here, so there is no hidden layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import scipy.sparse as sp

from recsys_engine.config import check_bool, check_number
from recsys_engine.errors import ConfigError
from recsys_engine.features import FeatureOptions, item_features
from recsys_engine.models.base import (
    TrainData,
)
from recsys_engine.models.two_tower import PooledHistoryModel, TwoTowerConfig


@dataclass(frozen=True)
class ContentConfig(TwoTowerConfig):
    """Content model settings (plus the two-tower and training settings).

    Attributes:
        dim: size of the content projection (input and output projections are separate).
        text: use the TF-IDF of the items' title, text and tags.
        categories: use the items' categories (multi-hot).
        numeric: use the items' numeric columns (standardised).
        max_text_features: TF-IDF vocabulary cap.
        min_df: minimum number of items a term must occur in.
    """

    presets: ClassVar[dict[str, dict]] = {
        "quick": {"epochs": 10, "patience": 0},
        "thorough": {"epochs": 120, "patience": 15},
    }
    advanced: ClassVar[tuple[str, ...]] = (
        *TwoTowerConfig.advanced,
        "max_text_features",
        "min_df",
    )

    # the content model keeps its own settings (the ID two-tower's were tuned for IDs)
    epochs: int = 40
    learning_rate: float = 5e-3
    lr_decay: float = 1.0
    patience: int = 8
    smoothing: int = 1
    ema: float = 0.0
    dim: int = 64
    dropout: float = 0.0
    l2: float = 0.0
    popularity_prior: float = 0.0
    text: bool = True
    categories: bool = True
    numeric: bool = True
    max_text_features: int = 5000
    min_df: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("text", "categories", "numeric"):
            check_bool(name, getattr(self, name))
        check_number("max_text_features", self.max_text_features, low=1, integer=True)
        check_number("min_df", self.min_df, low=1, integer=True)

    def tower_sizes(self) -> tuple[int, int, float]:
        return 0, int(self.dim), 0.0

    def feature_options(self) -> FeatureOptions:
        return FeatureOptions(
            text=self.text,
            categories=self.categories,
            numeric=self.numeric,
            max_text_features=self.max_text_features,
            min_df=self.min_df,
        )


def content_matrix(
    model: PooledHistoryModel, train: TrainData, required: bool
) -> sp.csr_matrix | None:
    """The item feature matrix of ``train`` for ``model``'s config (None when empty)."""
    features = item_features(train.items, train.item_ids, model.config.feature_options())
    if features.n_features == 0:
        if required:
            raise ConfigError(
                f"model {model.name!r} needs item metadata (title, text, categories or "
                "numeric columns) and this dataset has none"
            )
        return None
    return features.matrix


class ContentModel(PooledHistoryModel):
    """Two-tower over content features only; recommends never-seen items."""

    name = "content"
    config_class = ContentConfig
    family = "content"

    def _features(self, train: TrainData) -> sp.csr_matrix | None:
        return content_matrix(self, train, required=True)
