"""The weights a Keras fit validates and keeps (``keras_fit``): validation on the weight
average, early stopping on the (smoothed) validation metric with a copy of the best
weights, and the weights left in the model when training ends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.models.weight_copies import BestWeights, swap_with_averages

if TYPE_CHECKING:  # keras_fit imports this module
    from recsys_engine.models.keras_fit import FitResult


@contextlib.contextmanager
def averaged_weights(optimizer: Any, variables: list[Any], active: bool) -> Iterator[None]:
    """While active, the model holds the optimizer's averaged (EMA) weights; the raw
    weights are put back afterwards so training goes on from them. The two are exchanged
    in place (``weight_copies.swap_with_averages``): no copy of the raw weights is kept."""
    if not active:
        yield
        return
    if hasattr(optimizer, "catch_up_averages"):  # LazyAdam: bring lagging rows up to date
        optimizer.catch_up_averages()
    swap_with_averages(optimizer, variables)
    try:
        yield
    finally:
        swap_with_averages(optimizer, variables)


class EarlyStopping:
    """Keeps the best weights by the (smoothed) validation metric and counts the epochs
    since, to stop after ``patience`` epochs without a better value."""

    def __init__(self, config: KerasTrainConfig, higher_is_better: bool):
        self.smoothing, self.patience = int(config.smoothing), config.patience
        self.higher_is_better = higher_is_better
        self.best: float | None = None
        self.best_weights: BestWeights | None = None
        self.wait = 0
        self.values: list[float] = []

    def update(self, value: float | None, model: Any, result: FitResult) -> bool:
        """Record the epoch ``result.epochs`` just validated (``value``; None without
        validation: the last epoch is the best); returns whether to stop."""
        if value is None:
            result.best_epoch = result.epochs
            return False
        self.values.append(value)
        window = self.values[-self.smoothing :]
        smoothed = float(np.mean(window))
        best = self.best
        if best is None or (smoothed > best if self.higher_is_better else smoothed < best):
            self.best, self.wait = smoothed, 0
            if self.best_weights is not None:  # free the old copy first
                self.best_weights.close()
            self.best_weights = BestWeights(model)
            result.best_epoch, result.best_value = result.epochs, value
            return False
        self.wait += 1
        return bool(self.patience) and self.wait >= self.patience


def keep_final_weights(
    model: Any,
    optimizer: Any,
    variables: list[Any],
    best_weights: BestWeights | None,
    result: FitResult,
    config: KerasTrainConfig,
) -> None:
    """Restore the best epoch's weights, or when the last epoch is kept, its average."""
    if best_weights is not None and result.best_epoch != result.epochs:
        best_weights.restore(model)
    elif config.ema > 0:  # the last epoch is kept: its average
        optimizer.finalize_variable_values(variables)
