"""The weights a Keras fit validates and keeps (``keras_fit``): validation on the weight
average, early stopping on the (smoothed) validation metric with a copy of the best
weights, and the weights left in the model when training ends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.models.weight_copies import BestWeights, swap_with_averages

if TYPE_CHECKING:  # keras_fit imports this module
    from recsys_engine.models.keras_fit import FitResult
    from recsys_engine.models.table_rows import RowReader


def averaged_source(optimizer: Any) -> Callable[[Any], Any]:
    """``source(variable)``: the variable holding what the model would hold inside
    ``averaged_weights`` in place of ``variable`` — its weight average for a trainable
    variable the optimizer averages, else the variable itself. The averages must be up to
    date (``catch_up``)."""
    averages = optimizer._model_variables_moving_average  # Keras' list, in variable order
    indexes = optimizer._trainable_variables_indices

    def source(variable: Any) -> Any:
        index = indexes.get(optimizer._var_key(variable))
        if index is None or averages[index] is None:  # not trained, or no average kept
            return variable
        return averages[index]

    return source


def averaged_reader(optimizer: Any) -> RowReader:
    """A reader (``table_rows.RowReader``) of the weights the model would hold inside
    ``averaged_weights``, without putting them there (``averaged_source``).

    Validation reads through it instead of swapping the averages in and out: at 186k
    items × 512 the two swaps read and wrote four table-sized passes an epoch
    (BENCHMARKS.md); the values read are the ones the swapped-in weights hold."""
    from recsys_engine.models.table_rows import current_rows

    source = averaged_source(optimizer)

    def read(table: Any, rows: Any) -> Any:
        return current_rows(source(table), rows)

    return read


def catch_up(optimizer: Any) -> None:
    """Bring every weight average to the current step (``LazyAdam`` leaves the rows no
    step touched behind; Keras' own averages are always up to date)."""
    if hasattr(optimizer, "catch_up_averages"):
        optimizer.catch_up_averages()


@contextlib.contextmanager
def averaged_weights(optimizer: Any, variables: list[Any], active: bool) -> Iterator[None]:
    """While active, the model holds the optimizer's averaged (EMA) weights; the raw
    weights are put back afterwards so training goes on from them. The two are exchanged
    in place (``weight_copies.swap_with_averages``): no copy of the raw weights is kept."""
    if not active:
        yield
        return
    catch_up(optimizer)
    swap_with_averages(optimizer, variables)
    try:
        yield
    finally:
        swap_with_averages(optimizer, variables)


class EarlyStopping:
    """Keeps the best weights by the (smoothed) validation metric and counts the epochs
    since, to stop after ``patience`` epochs without a better value (better by more than
    ``min_improvement`` of the best, relative)."""

    def __init__(self, config: KerasTrainConfig, higher_is_better: bool):
        self.smoothing, self.patience = int(config.smoothing), config.patience
        self.min_improvement = float(config.min_improvement)
        self.higher_is_better = higher_is_better
        self.best: float | None = None
        self.best_weights: BestWeights | None = None
        self.wait = 0
        self.values: list[float] = []

    def _smoothed(self, values: list[float]) -> float:
        return float(np.mean(values[-self.smoothing :]))

    def _better(self, smoothed: float) -> bool:
        """Whether ``smoothed`` beats the best by more than ``min_improvement`` of it."""
        best = self.best
        if best is None:
            return True
        margin = self.min_improvement * abs(best)
        return smoothed > best + margin if self.higher_is_better else smoothed < best - margin

    def update(
        self,
        value: float | None,
        model: Any,
        result: FitResult,
        source: Callable[[Any], Any] | None = None,
    ) -> bool:
        """Record the epoch ``result.epochs`` just validated (``value``; None without
        validation: the last epoch is the best); returns whether to stop. A new best copies
        the model's weights, each read from ``source(weight)`` when given
        (``weight_copies.BestWeights``: e.g. ``averaged_source``'s averages, in place)."""
        if value is None:
            result.best_epoch = result.epochs
            return False
        self.values.append(value)
        smoothed = self._smoothed(self.values)
        if self._better(smoothed):
            self.best, self.wait = smoothed, 0
            if self.best_weights is not None:  # free the old copy first
                self.best_weights.close()
            self.best_weights = BestWeights(model, source)
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
