"""Shared Keras training engine of the deep models (DESIGN §4).

Examples come from numpy arrays built once per epoch by the model (``EpochSource``), are
shuffled in numpy, and reach Keras as whole batches (a ``keras.utils.PyDataset``): no
per-element ``tf.data`` shuffling, no Python loop over examples. ``fit_keras`` adds what
every model needs: seeds, large batches, an optional ``tf.distribute`` strategy, a progress
callable, a cancel flag checked every few steps, and early stopping on a validation metric
computed in numpy (NDCG@10 for ranking, RMSE for ratings) that restores the best weights.

TensorFlow is imported inside the functions only, never at ``recsys_engine`` import time.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import scipy.sparse as sp

from recsys_engine.config import check_choice, check_number
from recsys_engine.errors import ConfigError, FitCancelled
from recsys_engine.models.base import (
    ModelConfig,
    ProgressFn,
    StopFn,
    mask_items,
    top_k,
)

STRATEGIES = ("default", "mirrored", "multi_worker")


_IMPORT_LOCK = threading.Lock()
#: What TensorFlow's C++ logger writes at import when its oneDNN kernels are on, whatever
#: ``TF_CPP_MIN_LOG_LEVEL`` says (absl is not initialised yet). Other lines are kept.
_IMPORT_NOISE = re.compile(
    r"oneDNN custom operations are on|All log messages before absl::InitializeLog"
)


def keras_backend():
    """Import Keras quietly on the TensorFlow backend (first call ~2–3 s).

    TensorFlow's oneDNN kernels stay on: they train the models here about 1.3–1.5× faster
    (BENCHMARKS.md). With them on, TensorFlow writes a notice to the process's standard
    error during the import, so the first import runs with file descriptor 2 pointed at a
    temporary file; afterwards every other line of it is written back to stderr. This is
    process-wide: for those seconds, other threads' stderr output is held back too (and
    lost if the process dies during the import). One import at a time (a lock), so a
    second thread never saves the redirected descriptor as the real one.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" not in sys.modules:
        with _IMPORT_LOCK:
            if "keras" not in sys.modules:
                with _stderr_filtered():
                    import keras  # noqa: F401
    import keras

    return keras


@contextlib.contextmanager
def _stderr_filtered():
    """Send file descriptor 2 to a temporary file for the duration, then write its lines
    that are not TensorFlow's import notice back to stderr (also when the body raises).
    Does nothing when stderr is closed or not a file descriptor."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                held.seek(0)
                kept = [
                    line
                    for line in held.read().splitlines(keepends=True)
                    if not _IMPORT_NOISE.search(line.decode("utf-8", "replace"))
                ]
                if kept:
                    os.write(2, b"".join(kept))
    finally:
        os.close(saved)


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
        "ema",
        "seed",
        "strategy",
    )
    presets: ClassVar[dict[str, dict]] = {
        "quick": {"epochs": 5, "patience": 0},
        "thorough": {"epochs": 100, "patience": 10},
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
        check_number("ema", self.ema, low=0, high=1)
        if self.ema >= 1:
            raise ConfigError(f"ema must be < 1 (got {self.ema!r})")
        check_number("seed", self.seed, low=0, integer=True)
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})"
            )

    def effective_batch_size(self) -> int:
        """Examples per training step (``batch_size``; subclasses resolve automatic values)."""
        return int(self.batch_size)


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


_STRATEGY_CACHE: dict[str, Any] = {}


def make_strategy(name: str):
    """The ``tf.distribute`` strategy called ``name`` (created once per process)."""
    check_choice("strategy", name, STRATEGIES)
    keras_backend()
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name not in _STRATEGY_CACHE:
        if name == "mirrored":
            devices = [d.name for d in tf.config.list_logical_devices("GPU")]
            devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
            _STRATEGY_CACHE[name] = tf.distribute.MirroredStrategy(devices=devices)
        else:
            if "TF_CONFIG" not in os.environ:
                raise ConfigError("strategy 'multi_worker' needs the TF_CONFIG variable set")
            _STRATEGY_CACHE[name] = tf.distribute.MultiWorkerMirroredStrategy()
    return _STRATEGY_CACHE[name]


def fit_keras(
    build: Callable[[], Any],
    source: EpochSource,
    config: KerasTrainConfig,
    *,
    loss: Callable[[Any, Any], Any],
    validate: Callable[[Any], float] | None = None,
    higher_is_better: bool = True,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    check_every: int = 5,
    metric_name: str = "val",
) -> tuple[Any, FitResult]:
    """Build and train a Keras model with a compiled step over numpy batches.

    Each epoch the source draws its examples and their order is shuffled in numpy; every
    step feeds one whole batch (split across replicas under a strategy) to a
    ``tf.function`` doing forward, loss, gradient and Adam update.

    Args:
        build: returns the model (called under the strategy's scope, after seeding).
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

    Raises:
        FitCancelled: ``should_stop()`` returned True.
    """
    keras = keras_backend()
    import tensorflow as tf

    keras.utils.set_random_seed(int(config.seed))  # per thread: set in the training thread
    rng = np.random.default_rng(int(config.seed))
    strategy = make_strategy(config.strategy)
    with strategy.scope():
        model = build()
        settings = {
            "learning_rate": float(config.learning_rate),
            "use_ema": config.ema > 0,
            "ema_momentum": float(config.ema or 0.99),
        }
        if config.weight_decay > 0:
            optimizer = keras.optimizers.AdamW(weight_decay=float(config.weight_decay), **settings)
        else:
            optimizer = keras.optimizers.Adam(**settings)
        optimizer.build(model.trainable_variables)
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

    def distribute(batch):
        if replicas == 1:
            return batch

        def part(ctx):
            i, r = ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync
            return tf.nest.map_structure(lambda a: _slice(a, i, r), batch)

        return strategy.experimental_distribute_values_from_function(part)

    result = FitResult()
    epochs, batch_size = int(config.epochs), int(config.effective_batch_size())
    n = source.new_epoch(rng)
    if n == 0:
        raise ConfigError("no training examples (every user has too few interactions)")
    steps = math.ceil(n / batch_size)
    total = epochs * steps
    every = max(1, int(check_every))
    best, best_weights, wait = None, None, 0
    values: list[float] = []
    t0 = time.perf_counter()

    def report(done: int, info: dict[str, Any]) -> None:
        if on_progress is not None:
            on_progress(done, total, {**info, "elapsed": time.perf_counter() - t0})
        if should_stop is not None and should_stop():
            raise FitCancelled("training was cancelled")

    report(0, {"epoch": 0, "step": 0, "loss": None})
    for epoch in range(epochs):
        e0 = time.perf_counter()
        if epoch:
            if source.new_epoch(rng) != n:
                raise RuntimeError("the number of examples changed between epochs")
            if config.lr_decay != 1:
                optimizer.learning_rate.assign(epoch_learning_rate(config, epoch))
        order = rng.permutation(n)
        losses = []
        for s in range(steps):
            index = np.sort(order[s * batch_size : (s + 1) * batch_size])
            x, y = source.batch(index)
            losses.append(step(distribute(x), distribute(y), tf.constant(len(index), "float32")))
            if (s + 1) % every == 0 and s + 1 < steps:
                report(
                    epoch * steps + s + 1,
                    {"epoch": epoch + 1, "step": s + 1, "loss": float(losses[-1])},
                )
        mean_loss = float(np.mean([float(v) for v in losses]))
        swap = config.ema > 0 and validate is not None
        if swap:  # validate the averaged weights, then train on from the raw ones
            raw = [np.array(v) for v in variables]
            optimizer.finalize_variable_values(variables)
        value = float(validate(model)) if validate is not None else None
        result.epochs, result.examples = epoch + 1, result.examples + n
        result.history.append(
            {
                "epoch": epoch + 1,
                "loss": mean_loss,
                metric_name: value,
                "seconds": time.perf_counter() - e0,
            }
        )
        stop = False
        if value is not None:
            values.append(value)
            window = values[-int(config.smoothing) :]
            smoothed = float(np.mean(window))
        if value is None:
            result.best_epoch = epoch + 1
        elif best is None or (smoothed > best if higher_is_better else smoothed < best):
            best, wait = smoothed, 0
            best_weights = [np.array(w) for w in model.get_weights()]
            result.best_epoch, result.best_value = epoch + 1, value
        else:
            wait += 1
            stop = bool(config.patience) and wait >= config.patience
        if swap:
            for v, w in zip(variables, raw, strict=True):
                v.assign(w)
        info = {"epoch": epoch + 1, "step": steps, "loss": mean_loss}
        if value is not None:
            info[metric_name] = value
        report((epoch + 1) * steps, info)
        if stop:
            break
    if best_weights is not None and result.best_epoch != result.epochs:
        model.set_weights(best_weights)
    elif config.ema > 0:  # the last epoch is kept: its average
        optimizer.finalize_variable_values(variables)
    result.seconds = time.perf_counter() - t0
    return model, result


def epoch_learning_rate(config: KerasTrainConfig, epoch: int) -> float:
    """Step size of 0-based ``epoch``: ``learning_rate · lr_decay ** epoch``."""
    return float(config.learning_rate) * float(config.lr_decay) ** int(epoch)


def _slice(a: np.ndarray, i: int, r: int) -> np.ndarray:
    """Replica ``i``'s contiguous share of a global batch split ``r`` ways."""
    size = len(a)
    lo, hi = (size * i) // r, (size * (i + 1)) // r
    return a[lo:hi]


# -- validation metrics (numpy) -----------------------------------------------------------
def ndcg_at_10(
    score: Callable[[np.ndarray, sp.csr_matrix], np.ndarray],
    histories: sp.csr_matrix,
    relevant: sp.csr_matrix,
    max_users: int = 2000,
    batch_size: int = 512,
) -> float:
    """Mean NDCG@10 of ``score(user_indexes, histories)`` on the users with relevant items
    (full ranking, history items excluded); at most ``max_users`` users (the first ones)
    to keep it cheap."""
    from recsys_engine.metrics import hit_matrix, ndcg_at_k

    users = np.flatnonzero(np.diff(relevant.indptr) > 0)[:max_users]
    if len(users) == 0:
        return 0.0
    values = []
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        h = histories[batch]
        s = np.array(score(batch, h), dtype=np.float32)
        mask_items(s, h)
        items, _ = top_k(s, 10)
        hits = hit_matrix(items, relevant[batch])
        values.append(ndcg_at_k(hits, np.diff(relevant[batch].indptr), 10))
    return float(np.concatenate(values).mean())
