"""Training settings shared by every Keras model (DESIGN §4) and their learning-rate schedule.

Model configs (``TwoTowerConfig``, ``NeuMFConfig``, ...) subclass ``KerasTrainConfig`` and
add their own settings; ``keras_fit.fit_keras`` reads these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from recsys_engine.config import check_number
from recsys_engine.errors import ConfigError
from recsys_engine.models.distribution import STRATEGIES
from recsys_engine.models.model_config import ModelConfig
from recsys_engine.models.search_space import Param, Range


@dataclass(frozen=True)
class KerasTrainConfig(ModelConfig):
    """Training settings shared by every Keras model (subclasses add model settings).

    Attributes:
        epochs: maximum passes over the training examples.
        batch_size: examples per step (global batch when distributed).
        learning_rate: Adam step size (at the first epoch).
        lr_decay: the step size is multiplied by this factor after every epoch (1 = constant;
            per epoch, so a refit for fewer epochs follows the same schedule).
        weight_decay: decoupled weight decay (AdamW) when > 0; 0 = plain Adam.
        patience: epochs without a better validation metric before stopping (needs a
            validation fold; 0 disables early stopping).
        smoothing: early stopping compares the mean validation metric of the last
            ``smoothing`` epochs (1 = the raw value), so a lucky epoch on a noisy curve does
            not win; the weights kept are those of the window's last epoch.
        min_improvement: the least relative gain that counts as better for early stopping
            (0.005: the smoothed metric must beat the best by 0.5% of its value), so a
            flat, noisy curve stops after ``patience`` epochs instead of training on for
            gains it cannot tell from noise. 0 = any gain counts.
        ema: momentum of an exponential moving average of the weights, updated every step
            (Polyak averaging: w̄ ← ema · w̄ + (1 − ema) · w); validation and the final
            model use the averaged weights, which are less noisy than the last step's.
            The average starts from the first step's weights, so it wants runs of a few
            hundred steps or more. 0 = off.
        seed: seeds numpy, Python and Keras; the same seed reproduces the model.
        strategy: ``default`` (one device), ``mirrored`` (all local devices) or
            ``multi_worker`` (workers from ``TF_CONFIG``).
    """

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"strategy": STRATEGIES}
    advanced: ClassVar[tuple[str, ...]] = (
        "batch_size",
        "learning_rate",
        "lr_decay",
        "weight_decay",
        "patience",
        "smoothing",
        "min_improvement",
        "ema",
        "seed",
        "strategy",
    )
    presets: ClassVar[dict[str, dict]] = {
        "quick": {"epochs": 5, "patience": 0},
        "thorough": {"epochs": 100, "patience": 10},
    }

    #: tuned by ``recsys_engine.tuning``; epochs is an upper bound (early stopping and
    #: pruning end a trial sooner) and the best trial's run keeps the epochs it needed
    search_space: ClassVar[dict[str, Param]] = {
        "epochs": Range(5, 100, integer=True),
        "learning_rate": Range(1e-4, 5e-2, log=True),
        "lr_decay": Range(0.9, 1.0),
    }

    #: the smallest accepted ``batch_size`` (a subclass may give 0 a meaning)
    min_batch_size: ClassVar[int] = 1
    #: added 2026-11-22; runs stored before trained without them
    stored_defaults: ClassVar[dict[str, Any]] = {
        "lr_decay": 1.0,
        "weight_decay": 0.0,
        "smoothing": 1,
        "ema": 0.0,
    }

    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 5e-3
    lr_decay: float = 1.0
    weight_decay: float = 0.0
    patience: int = 3
    smoothing: int = 1
    min_improvement: float = 0.0
    ema: float = 0.0
    seed: int = 42
    strategy: str = "default"

    def __post_init__(self) -> None:
        check_number("epochs", self.epochs, low=1, high=10_000, integer=True)
        check_number("batch_size", self.batch_size, low=self.min_batch_size, integer=True)
        check_number("learning_rate", self.learning_rate, low=0, high=10, low_open=True)
        check_number("lr_decay", self.lr_decay, low=0, high=1, low_open=True)
        check_number("weight_decay", self.weight_decay, low=0, high=1)
        check_number("patience", self.patience, low=0, integer=True)
        check_number("smoothing", self.smoothing, low=1, high=100, integer=True)
        check_number("min_improvement", self.min_improvement, low=0, high=1)
        check_number("ema", self.ema, low=0, high=1)
        if self.ema >= 1:
            raise ConfigError(f"ema must be < 1 (got {self.ema!r})")
        check_number("seed", self.seed, low=0, integer=True)
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})"
            )

    def effective_batch_size(self, n_users: int = 0) -> int:
        """Examples per training step for ``n_users`` training users (``batch_size``;
        subclasses resolve automatic values)."""
        return int(self.batch_size)


def epoch_learning_rate(config: KerasTrainConfig, epoch: int) -> float:
    """Step size of 0-based ``epoch``: ``learning_rate · lr_decay ** epoch``."""
    return float(config.learning_rate) * float(config.lr_decay) ** int(epoch)
