"""Shared Keras training loop of the deep models (DESIGN §4).

Examples come from numpy arrays built once per epoch by the model (``EpochSource``), are
shuffled in numpy, and reach Keras as whole batches: no per-element ``tf.data`` shuffling,
no Python loop over examples. ``fit_keras`` adds what every model needs: seeds, large
batches, an optional ``tf.distribute`` strategy, a progress callable, a cancel flag checked
every few steps, and early stopping on a validation metric computed in numpy (NDCG@10 for
ranking, RMSE for ratings) that restores the best weights.

``fit_keras`` reads top-down; each part is a function below it: the optimizer, the
compiled step, one epoch of steps. The swap to averaged weights for validation and early
stopping are in ``early_stopping``, the progress/cancel reports in ``fit_progress``.
TensorFlow is imported inside the functions only, never at ``recsys_engine`` import time.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from recsys_engine.errors import ConfigError
from recsys_engine.models.base import ProgressFn, StopFn
from recsys_engine.models.distribution import distribute_batch, make_strategy
from recsys_engine.models.early_stopping import (
    EarlyStopping,
    averaged_reader,
    averaged_source,
    averaged_weights,
    catch_up,
    keep_final_weights,
)
from recsys_engine.models.fit_progress import Progress
from recsys_engine.models.keras_backend import keras_backend
from recsys_engine.models.keras_config import KerasTrainConfig, epoch_learning_rate

#: One compiled training step: ``(x, y, batch size) -> loss`` of a global batch (numpy in,
#: tensor out).
StepFn = Callable[[Any, Any, int], Any]


class EpochSource(Protocol):
    """Training examples of one model, rebuilt (resampled) at each epoch."""

    def new_epoch(self, rng: np.random.Generator) -> int:
        """Draw this epoch's examples; returns how many there are."""

    def batch(self, index: np.ndarray) -> tuple[Any, Any]:
        """``(x, y)`` of the examples at ``index`` (numpy arrays or a dict of them)."""


@dataclass
class FitResult:
    """What ``fit_keras`` reports.

    Attributes:
        epochs: epochs run. best_epoch: 1-based epoch whose weights were kept.
        best_value: its validation metric (None without validation).
        history: one dict per epoch (loss, validation metric, seconds).
        seconds: wall time of training. examples: examples seen.
    """

    epochs: int = 0
    best_epoch: int = 0
    best_value: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    examples: int = 0

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else 0.0


def fit_keras(
    build: Callable[[], Any],
    source: EpochSource,
    config: KerasTrainConfig,
    *,
    loss: Callable[[Any, Any], Any],
    validate: Callable[..., float] | None = None,
    higher_is_better: bool = True,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    check_every: int = 5,
    metric_name: str = "val",
    sparse_updates: bool = False,
    any_width: bool = False,
    validate_reads: bool = False,
) -> tuple[Any, FitResult]:
    """Build and train a Keras model with a compiled step over numpy batches.

    Each epoch the source draws its examples and their order is shuffled in numpy; every
    step feeds one whole batch (split across replicas under a strategy) to a
    ``tf.function`` doing forward, loss, gradient and Adam update.

    Args:
        build: returns the model (called under the strategy's scope, after seeding and
            after ``source`` drew the first epoch).
        source: the per-epoch examples.
        config: epochs, batch size, learning rate, patience, seed, strategy.
        loss: ``(y_true, y_pred) -> per-example losses`` (no reduction).
        validate: model → validation metric (numpy); enables early stopping and the
            restore of the best weights.
        higher_is_better: direction of the validation metric.
        on_progress: ``(done_steps, total_steps, info)``; info has epoch, step, loss,
            the validation metric (at epoch ends) and elapsed seconds.
        should_stop: cancel flag, checked every ``check_every`` steps.
        metric_name: key of the validation metric in ``info`` and ``history``.
        sparse_updates: variables whose gradients are sparse (the rows an embedding lookup
            read) update only those rows (``lazy_adam.LazyAdam``), which also applies the
            L2 penalties of the rows read that the model's layers hand over
            (``lazy_adam.hand_row_penalties``); False keeps Keras' dense Adam for every
            variable.
        any_width: the batches' inputs vary in width (the pooled towers' history bags are
            padded to each batch's longest history): the step is traced once for any width
            (``compiled_step``).
        validate_reads: ``validate`` takes a second argument, a reader of the weights
            to validate (``table_rows.RowReader``): with a weight average it reads the
            average (``early_stopping.averaged_reader``) and the model keeps its raw
            weights; early stopping copies a new best from the averages too
            (``averaged_source``), so they are never swapped in. Without it, the model
            holds the averaged weights while ``validate`` runs.

    Raises:
        FitCancelled: ``should_stop()`` returned True.
    """
    keras = keras_backend()
    keras.utils.set_random_seed(int(config.seed))  # per thread: set in the training thread
    rng = np.random.default_rng(int(config.seed))
    strategy = make_strategy(config.strategy)
    # the first epoch is drawn before the model is built, so ``build`` may read it (the
    # pooled towers count its reads per item instead of drawing an epoch of their own)
    n = source.new_epoch(rng)
    if n == 0:
        raise ConfigError("no training examples (every user has too few interactions)")
    with strategy.scope():
        model = build()
        optimizer = build_optimizer(keras, config, model, sparse_updates)
    variables = model.trainable_variables
    step = compiled_step(model, optimizer, loss, strategy, any_width)

    result = FitResult()
    epochs, batch_size = int(config.epochs), int(config.effective_batch_size())
    steps = math.ceil(n / batch_size)
    progress = Progress(epochs * steps, on_progress, should_stop)
    stopping = EarlyStopping(config, higher_is_better)
    # validate the averaged weights, then train on from the raw ones
    swap = config.ema > 0 and validate is not None
    # with ``validate_reads`` the averages are read where they are, by validation and by
    # early stopping's copy of a new best: never swapped in
    read, best_from = None, None
    if validate_reads:
        from recsys_engine.models.table_rows import current_rows

        read = averaged_reader(optimizer) if swap else current_rows
        best_from = averaged_source(optimizer) if swap else None

    progress.report(0, {"epoch": 0, "step": 0, "loss": None})
    for epoch in range(epochs):
        e0 = time.perf_counter()
        if epoch:
            if source.new_epoch(rng) != n:
                raise RuntimeError("the number of examples changed between epochs")
            if config.lr_decay != 1:
                optimizer.learning_rate.assign(epoch_learning_rate(config, epoch))
        mean_loss = _train_epoch(
            step, source, rng.permutation(n), batch_size, epoch, progress, check_every
        )
        if swap and read is not None:
            catch_up(optimizer)
        with averaged_weights(optimizer, variables, swap and read is None):
            if validate is None:
                value = None
            else:
                value = float(validate(model) if read is None else validate(model, read))
            result.epochs, result.examples = epoch + 1, result.examples + n
            result.history.append(
                {
                    "epoch": epoch + 1,
                    "loss": mean_loss,
                    metric_name: value,
                    "seconds": time.perf_counter() - e0,
                }
            )
            # a new best is copied from where the weights validated are (the averages)
            stop = stopping.update(value, model, result, best_from)
        info = {"epoch": epoch + 1, "step": steps, "loss": mean_loss}
        if value is not None:
            info[metric_name] = value
        progress.report((epoch + 1) * steps, info)
        if stop:
            break
    keep_final_weights(model, optimizer, variables, stopping.best_weights, result, config)
    result.seconds = progress.elapsed()
    if stopping.best_weights is not None:
        stopping.best_weights.close()
    # the optimizer state and best weights go with them
    del step, optimizer, stopping, read, best_from
    release_training_graph(model)
    return model, result


def release_training_graph(model: Any) -> None:
    """Free the traced training step and everything it captured once training is over.

    A layer's ``add_loss`` losses (e.g. the towers' L2 penalty of the rows read) stay in
    the layer until its next call, and the last call was inside the compiled step: they
    are tensors of the step's graph, which holds a handle to every variable the step
    captured, the optimizer's moments and weight average included. The trained model is
    kept after ``fit`` (scoring arrays, ``save``), so without this those optimizer
    tables would live on through evaluation: at 186k items × 512 that is six more
    0.38 GB tables (2.1 GiB), the largest part of the 3M-row log's peak memory
    (BENCHMARKS.md). Keras clears these losses itself at the model's next call; doing it
    now, then collecting the graph's reference cycles, releases that memory at once.
    The weights and what the model computes are unchanged.
    """
    from recsys_engine.models.sparse_product import forget_traced_gradients

    model._clear_losses()  # Keras 3's own reset, which its next call would run
    forget_traced_gradients()  # the CSR products' gradients, registered while tracing
    gc.collect()  # the graph and its operations reference one another


def build_optimizer(
    keras: Any,
    config: KerasTrainConfig,
    model: Any,
    sparse_updates: bool = False,
    row_penalties: bool = True,
) -> Any:
    """Adam (AdamW when ``weight_decay`` > 0), with the weight average when ``ema`` > 0,
    built for ``model``'s trainable variables (call under the strategy's scope).

    With ``sparse_updates`` it is ``LazyAdam``: the same Adam, decay and average, except
    that a sparse gradient updates only the rows it names (``lazy_adam``), and it applies
    the L2 penalty of the rows read that ``model``'s layers hand over
    (``lazy_adam.hand_row_penalties``; ``row_penalties`` False leaves the penalty in the
    layers' loss, for the side-by-side timing of ``bench/epoch_profile.py``)."""
    settings = {
        "learning_rate": float(config.learning_rate),
        "use_ema": config.ema > 0,
        "ema_momentum": float(config.ema or 0.99),
    }
    if sparse_updates:
        from recsys_engine.models.lazy_adam import LazyAdam, hand_row_penalties

        if config.weight_decay > 0:
            settings["weight_decay"] = float(config.weight_decay)
        optimizer = LazyAdam(**settings)
        optimizer.build(model.trainable_variables)
        if row_penalties:
            hand_row_penalties(model, optimizer)
        return optimizer
    if config.weight_decay > 0:
        optimizer = keras.optimizers.AdamW(weight_decay=float(config.weight_decay), **settings)
    else:
        optimizer = keras.optimizers.Adam(**settings)
    optimizer.build(model.trainable_variables)
    return optimizer


def compiled_step(
    model: Any,
    optimizer: Any,
    loss: Callable[[Any, Any], Any],
    strategy: Any,
    any_width: bool = False,
) -> StepFn:
    """One training step as a ``tf.function``: forward, loss (summed over the global batch
    and divided by its size, plus the model's regularisation losses), gradient and update.

    Under a strategy with several replicas each replica gets its contiguous share of the
    batch and the replicas' losses are summed. With ``any_width`` (one replica) the step
    is traced once, before the first batch, for inputs of any width and the first
    batch's size: traced for the first batch's exact shapes, it was traced again at the
    next width (~0.7–1 s at MovieLens-20M shape). The batch size stays known (an unknown
    one made every step ~4% slower); an epoch's smaller last batch gets a trace of its
    own. Without it, inputs of a fixed width keep their known shapes.
    """
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    variables = model.trainable_variables

    def replica_step(x, y, global_batch):
        with tf.GradientTape() as tape:
            per_example = loss(y, model(x, training=True))
            value = tf.reduce_sum(per_example) / global_batch
            if model.losses:
                value += tf.add_n(model.losses) / replicas
        grads = tape.gradient(value, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return value

    @tf.function(reduce_retracing=True)
    def step(x, y, global_batch):
        if replicas == 1:
            return replica_step(x, y, global_batch)
        values = strategy.run(replica_step, args=(x, y, global_batch))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)

    traced = []

    def train_step(x: Any, y: Any, size: int) -> Any:
        x, y = distribute_batch(strategy, x), distribute_batch(strategy, y)
        if any_width and replicas == 1 and not traced:
            step.get_concrete_function(*_any_width((x, y)), tf.TensorSpec((), "float32"))
            traced.append(True)
        return step(x, y, tf.constant(size, "float32"))

    train_step.compiled = step  # type: ignore[attr-defined]  # its graph, for the tests
    return train_step


def _any_width(batch: Any) -> Any:
    """``TensorSpec``s of the arrays in ``batch`` (nested): the first dimension (the batch)
    as it is, every other one unknown."""
    import tensorflow as tf

    def spec(a: Any) -> Any:
        a = np.asarray(a)
        return tf.TensorSpec(a.shape[:1] + (None,) * (a.ndim - 1), tf.as_dtype(a.dtype))

    return tf.nest.map_structure(spec, batch)


def _train_epoch(
    step: StepFn,
    source: EpochSource,
    order: np.ndarray,
    batch_size: int,
    epoch: int,
    progress: Progress,
    check_every: int,
) -> float:
    """Run one epoch of steps over the examples in ``order``; returns the mean step loss.

    Honours cancellation every ``check_every`` steps and reports progress there too (at
    most once per ``fit_progress.PROGRESS_INTERVAL`` seconds), except after the last step, which the
    epoch's end reports.
    """
    steps = math.ceil(len(order) / batch_size)
    every = max(1, int(check_every))
    losses = []
    for s in range(steps):
        index = np.sort(order[s * batch_size : (s + 1) * batch_size])
        x, y = source.batch(index)
        losses.append(step(x, y, len(index)))
        if (s + 1) % every == 0 and s + 1 < steps:
            progress.report(
                epoch * steps + s + 1,
                {"epoch": epoch + 1, "step": s + 1, "loss": float(losses[-1])},
                periodic=True,
            )
    return float(np.mean([float(v) for v in losses]))
