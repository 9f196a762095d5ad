"""Content two-tower (DESIGN §4): the item tower sees content features only.

Item vectors are linear projections of the item's sparse content features (TF-IDF of title
and text, multi-hot categories, standardised numeric columns — ``models.features``);
the user is the weighted mean of their history's input vectors. No item ID is learned, so
items nobody has interacted with are scored like any other, and explanations are exact
(see ``pooled``). A linear projection beat a ReLU MLP here, so there is no hidden layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import scipy.sparse as sp

from recsys_engine.config import check_bool
from recsys_engine.errors import ConfigError
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import TrainData
from recsys_engine.models.features import FeatureOptions, item_features
from recsys_engine.models.pooled import PooledHistoryModel
from recsys_engine.models.pooled_config import TwoTowerConfig
from recsys_engine.models.search_space import Choice, Param, Range


@dataclass(frozen=True)
class ContentConfig(FeatureOptions, TwoTowerConfig):
    """Content model settings (plus the feature, two-tower and training settings).

    The feature settings (``text``, ``categories``, ``numeric``, ``max_text_features``,
    ``min_df``, ``max_df``, ``stop_words``) come from ``FeatureOptions``, their one
    definition. It is listed first among the bases so that its fields come last, after
    the two-tower fields (the order of stored configs and of the form).

    Attributes:
        dim: size of the content projection (input and output projections are separate).
        new_item_negatives: train items nobody interacted with in training as negatives
            of the full softmax (the default here, except on a cold-items split: see
            ``split_defaults``). Off, such items — new arrivals on a
            cold-items split — are left out of its denominator: they were not on offer, so
            their absence from every history is no evidence against them, and the content
            weights (shared with known items) do not learn to bury whatever looks new.
            Off ranks new arrivals better (cold-items validation fold of ml-latest-small)
            but costs the content model accuracy on a random split (ml-100k), where such
            items are old ones nobody chose; see BENCHMARKS.md.
    """

    presets: ClassVar[dict[str, dict]] = {
        "quick": {"epochs": 10, "patience": 0},
        "thorough": {"epochs": 120, "patience": 15},
    }
    # chosen on the validation fold of a cold-items split of ml-latest-small (held-out
    # validation items): new arrivals' shelf Recall@20 0.2304 -> 0.2797; on a random split
    # the same settings cost ml-100k half its NDCG@10, so they apply to cold-items splits
    # only (BENCHMARKS.md, "Content on the new-arrivals shelf")
    split_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "cold-items": {"new_item_negatives": False, "min_df": 5},
    }
    split_notes: ClassVar[dict[str, str]] = {
        "cold-items": (
            "on a cold-items split starts from settings for new arrivals: items nobody "
            "has interacted with yet are not trained as negatives, and words used by fewer "
            "than 5 items are ignored (such rare words act as item IDs that new items cannot "
            "share). Chosen on a validation fold; change them under Advanced settings."
        ),
    }
    advanced: ClassVar[tuple[str, ...]] = (
        *TwoTowerConfig.advanced,
        "max_text_features",
        "min_df",
        "max_df",
        "stop_words",
        "new_item_negatives",
    )
    #: runs stored before stop-words, max_df and new_item_negatives existed kept every
    #: term and trained new items as negatives
    stored_defaults: ClassVar[dict] = {
        **TwoTowerConfig.stored_defaults,
        "max_df": 1.0,
        "stop_words": False,
        "new_item_negatives": True,
    }
    search_space: ClassVar[dict[str, Param]] = {
        **TwoTowerConfig.search_space,
        "dim": Range(16, 256, log=True, integer=True),
        "l2": Range(1e-7, 1e-2, log=True),
        # the two settings that decide new arrivals (BENCHMARKS.md, "Content on the
        # new-arrivals shelf"): rarer words act as item IDs, and new items as negatives
        # push the shelf's candidates down
        "min_df": Range(1, 20, log=True, integer=True),
        "new_item_negatives": Choice((True, False)),
    }

    # the content model keeps its own settings (the ID two-tower's were tuned for IDs)
    epochs: int = 40
    learning_rate: float = 5e-3
    lr_decay: float = 1.0
    patience: int = 8
    smoothing: int = 1
    min_improvement: float = 0.0
    ema: float = 0.0
    dim: int = 64
    dropout: float = 0.0
    l2: float = 0.0
    popularity_prior: float = 0.0
    new_item_negatives: bool = True

    def __post_init__(self) -> None:
        # the two-tower checks first, then the feature ones (FeatureOptions' own
        # __post_init__ does not chain to the other base)
        TwoTowerConfig.__post_init__(self)
        self.check_feature_options()
        check_bool("new_item_negatives", self.new_item_negatives)

    def tower_sizes(self) -> tuple[int, int, float]:
        return 0, int(self.dim), 0.0


def content_matrix(model: Recommender, train: TrainData, required: bool) -> sp.csr_matrix | None:
    """The item feature matrix of ``train`` for ``model``'s config (its
    ``feature_options()``; None when empty)."""
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

    def _new_item_negatives(self) -> bool:
        return bool(self.config.new_item_negatives)
