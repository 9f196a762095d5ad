"""The settings of the history-pooled two-tower models (``two_tower``, and through
``ContentConfig`` also ``content`` and ``hybrid``): towers, loss and its choice, history
weighting and pooling, the popularity prior, context. The model is ``pooled.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from recsys_engine.config import check_bool, check_choice, check_number
from recsys_engine.errors import ConfigError
from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.models.search_space import Choice, Param, Range

LOSSES = ("auto", "softmax", "sampled_softmax", "bpr")
WEIGHTINGS = ("binary", "log", "raw")
TARGETS = ("rest", "all")
POOLINGS = ("mean", "sqrt")
#: ``batch_size=0``: this many examples per step while an epoch stays within
#: AUTO_BATCH_STEPS steps; bigger logs double it (up to AUTO_BATCH_MAX) to stay there.
AUTO_BATCH, AUTO_BATCH_STEPS, AUTO_BATCH_MAX = 128, 256, 8192


def auto_batch_size(n_users: int) -> int:
    """The automatic batch size for ``n_users`` training users: 128 (the size the defaults
    were tuned with) up to 32,768 users; beyond, the smallest doubling of 128 that keeps an
    epoch to 256 steps, at most 8192.

    Why: a step's fixed cost (Python dispatch, the optimizer's row updates, the in-batch
    softmax's few hundred negatives) is paid per step, so on a 150k-user log batch 128
    spends most of an epoch on overhead (BENCHMARKS.md, "automatic batch size"); below
    32,768 users nothing changes.
    """
    size = AUTO_BATCH
    while size < AUTO_BATCH_MAX and -(-int(n_users) // size) > AUTO_BATCH_STEPS:
        size *= 2
    return size


@dataclass(frozen=True)
class TwoTowerConfig(KerasTrainConfig):
    """Two-tower settings (plus the shared training settings).

    Attributes:
        batch_size: users per step; 0 = automatic: 128 up to 32,768 training users, then
            doubled (up to 8192) so that an epoch stays within 256 steps.
        dim: size of the item ID embeddings (input and output tables are separate).
        loss: ``auto``, ``softmax``, ``sampled_softmax`` or ``bpr`` (see the module doc).
        max_softmax_items: ``auto`` uses the full softmax up to this catalogue size.
        max_softmax_cells: ``auto`` also needs training examples (users) × items per
            epoch, the full softmax's cost, to be at most this (0 = no limit); bigger logs
            train with the sampled softmax.
        input_fraction: share of a user's history pooled as input at each epoch (the rest
            are targets).
        weighting: history weights used for pooling: ``binary`` (1 per item), ``log``
            (1 + log w) or ``raw`` (w).
        pooling: ``mean`` (w̃ = w / Σw) or ``sqrt`` (w̃ = w / √Σw²: longer histories give
            more confident users).
        dropout: dropout on the pooled user vector during training.
        l2: L2 penalty on the embeddings.
        targets: ``rest`` (the history items not pooled as input, input items masked from
            the softmax) or ``all`` (the whole history, Mult-DAE style, no masking).
        item_bias: learn a per-item output bias.
        popularity_prior: inference-only prior α added to every item's base score as
            α · log(item's share of training interactions); > 0 favours popular items,
            < 0 is a log-Q popularity correction, 0 turns it off.
        use_context: add the context of the event to predict (device, hour, weekday, …,
            mapped at upload) to the user tower; needs a dataset with context. Training
            then takes one example per event, so an epoch costs more (``pooled_context``).
    """

    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        **KerasTrainConfig.choices,
        "loss": LOSSES,
        "weighting": WEIGHTINGS,
        "pooling": POOLINGS,
        "targets": TARGETS,
    }
    advanced: ClassVar[tuple[str, ...]] = (
        *KerasTrainConfig.advanced,
        "loss",
        "max_softmax_items",
        "max_softmax_cells",
        "input_fraction",
        "weighting",
        "pooling",
        "dropout",
        "l2",
        "targets",
        "item_bias",
        "popularity_prior",
    )
    presets: ClassVar[dict[str, dict]] = {
        # a few dozen steps are too few for an average of the weights to forget the start
        "quick": {"epochs": 10, "patience": 0, "ema": 0.0, "dim": 128},
        "thorough": {"epochs": 150, "patience": 25, "lr_decay": 0.98},
    }
    min_batch_size: ClassVar[int] = 0
    #: runs stored before ``max_softmax_cells`` existed chose the loss by items alone
    #: and before ``min_improvement`` counted any gain as better
    stored_defaults: ClassVar[dict] = {
        **KerasTrainConfig.stored_defaults,
        "max_softmax_cells": 0,
        "min_improvement": 0.0,
    }
    search_space: ClassVar[dict[str, Param]] = {
        **KerasTrainConfig.search_space,
        "epochs": Range(10, 150, integer=True),
        "dim": Range(32, 1024, log=True, integer=True),
        "dropout": Range(0.0, 0.8),
        "l2": Range(1e-7, 1e-2, log=True),
        "input_fraction": Range(0.2, 0.8),
        "weighting": Choice(WEIGHTINGS),
        "popularity_prior": Range(-1.0, 1.0),
    }

    # defaults tuned on the ml-latest-small validation fold (BENCHMARKS.md, issue 4)
    epochs: int = 80
    batch_size: int = 0
    learning_rate: float = 1e-2
    lr_decay: float = 0.96
    patience: int = 15
    smoothing: int = 5
    # chosen on the validation folds of ml-latest-small, ml-100k and lastfm: the best
    # epoch's NDCG@10 within 0.001 while flat curves stop 16 epochs in (BENCHMARKS.md)
    min_improvement: float = 0.005
    ema: float = 0.99
    dim: int = 512
    loss: str = "auto"
    max_softmax_items: int = 50_000
    max_softmax_cells: int = 250_000_000
    input_fraction: float = 0.5
    weighting: str = "binary"
    pooling: str = "sqrt"
    dropout: float = 0.5
    l2: float = 1e-4
    targets: str = "rest"
    item_bias: bool = True
    popularity_prior: float = 0.6
    use_context: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("dim", self.dim, low=1, high=4096, integer=True)
        self._check_common()

    def _check_common(self) -> None:
        check_choice("loss", self.loss, LOSSES)
        check_number("max_softmax_items", self.max_softmax_items, low=1, integer=True)
        check_number("max_softmax_cells", self.max_softmax_cells, low=0, integer=True)
        check_number("input_fraction", self.input_fraction, low=0, high=1, low_open=True)
        if self.input_fraction >= 1:
            raise ConfigError(f"input_fraction must be < 1 (got {self.input_fraction!r})")
        check_choice("weighting", self.weighting, WEIGHTINGS)
        check_choice("pooling", self.pooling, POOLINGS)
        check_number("dropout", self.dropout, low=0, high=0.95)
        check_number("l2", self.l2, low=0)
        check_choice("targets", self.targets, TARGETS)
        check_bool("item_bias", self.item_bias)
        check_number("popularity_prior", self.popularity_prior, low=-2, high=2)
        check_bool("use_context", self.use_context)

    def effective_batch_size(self, n_users: int = 0) -> int:
        """``batch_size``, or ``auto_batch_size(n_users)`` when it is 0."""
        return int(self.batch_size) if self.batch_size else auto_batch_size(n_users)

    # what the item tower is made of (overridden by the content / hybrid configs)
    def tower_sizes(self) -> tuple[int, int, float]:
        """(ID embedding size, content projection size, ID dropout)."""
        return int(self.dim), 0, 0.0
