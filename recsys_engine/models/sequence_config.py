"""Settings of the deep sequence models ``sasrec`` and ``gru4rec`` (``sequence``), with
their form presets and tuning search space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from recsys_engine.config import check_bool, check_choice, check_number
from recsys_engine.models.features import FeatureOptions
from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.models.search_space import Param, Range

LOSSES = ("auto", "softmax", "sampled_softmax")


@dataclass(frozen=True)
class SequenceConfig(KerasTrainConfig):
    """Settings shared by the sequence models (plus ``KerasTrainConfig``'s training ones).

    Attributes:
        dim: item embedding and hidden size.
        max_len: the most recent items a sequence keeps (older ones are cut off).
        blocks: transformer blocks (SASRec) or stacked GRU layers (GRU4Rec).
        dropout: dropout on the embedded sequence and inside the encoder.
        l2: L2 penalty on the item embedding.
        loss: ``softmax`` (every position against the whole catalogue), ``sampled_softmax``
            (in-batch negatives, log-Q corrected) or ``auto`` (full softmax up to
            ``max_softmax_items`` items).
        max_softmax_items: ``auto`` uses the full softmax up to this catalogue size.
        use_context: add the context of the event to predict (device, hour, weekday, …,
            mapped at upload) to the predicting position; needs a dataset with context.
            Training gives each position its target event's context; evaluation scores
            each test user in their test event's context.
        use_content: add a projection of the item's content (title/text words,
            categories, numeric columns; the content model's default features) to its
            ID embedding, so items nobody interacted with in training get a score from
            their content; needs item metadata.
    """

    choices: ClassVar[dict[str, tuple[str, ...]]] = {**KerasTrainConfig.choices, "loss": LOSSES}
    advanced: ClassVar[tuple[str, ...]] = (
        *KerasTrainConfig.advanced,
        "dropout",
        "l2",
        "loss",
        "max_softmax_items",
    )
    presets: ClassVar[dict[str, dict]] = {
        "quick": {"epochs": 8, "patience": 0, "dim": 32, "max_len": 20},
        "thorough": {"epochs": 200, "patience": 20},
    }
    search_space: ClassVar[dict[str, Param]] = {
        **KerasTrainConfig.search_space,
        "epochs": Range(10, 200, integer=True),
        "learning_rate": Range(1e-4, 1e-2, log=True),
        "dim": Range(16, 256, log=True, integer=True),
        "max_len": Range(10, 200, log=True, integer=True),
        "blocks": Range(1, 3, integer=True),
        "dropout": Range(0.0, 0.7),
        "l2": Range(1e-8, 1e-3, log=True),
    }
    stored_defaults: ClassVar[dict[str, Any]] = {}

    epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 1e-3
    patience: int = 10
    dim: int = 64
    max_len: int = 50
    blocks: int = 2
    dropout: float = 0.2
    l2: float = 0.0
    loss: str = "auto"
    max_softmax_items: int = 50_000
    use_context: bool = False
    use_content: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("dim", self.dim, low=1, high=4096, integer=True)
        check_number("max_len", self.max_len, low=1, high=10_000, integer=True)
        check_number("blocks", self.blocks, low=1, high=16, integer=True)
        check_number("dropout", self.dropout, low=0, high=0.95)
        check_number("l2", self.l2, low=0)
        check_choice("loss", self.loss, LOSSES)
        check_number("max_softmax_items", self.max_softmax_items, low=1, integer=True)
        check_bool("use_context", self.use_context)
        check_bool("use_content", self.use_content)

    def feature_options(self) -> FeatureOptions:
        """The item features ``use_content`` builds: the content model's defaults."""
        return FeatureOptions()
