"""``tf.distribute`` strategies for Keras training (DESIGN §4: ``strategy`` option).

``default`` trains on one device, ``mirrored`` on all local devices (GPUs, else the logical
CPUs), ``multi_worker`` on the workers named by ``TF_CONFIG``. Under several replicas each
one gets a contiguous share of every global batch. TensorFlow is imported inside the
functions only.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from recsys_engine.config import check_choice
from recsys_engine.errors import ConfigError
from recsys_engine.models.keras_backend import keras_backend

STRATEGIES = ("default", "mirrored", "multi_worker")

_STRATEGY_CACHE: dict[str, Any] = {}


def make_strategy(name: str) -> Any:
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


def distribute_batch(strategy: Any, batch: Any) -> Any:
    """``batch`` (an array or a dict of arrays) split across ``strategy``'s replicas; as is
    when there is one replica."""
    if strategy.num_replicas_in_sync == 1:
        return batch
    import tensorflow as tf

    def part(ctx):
        i, r = ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync
        return tf.nest.map_structure(lambda a: _slice(a, i, r), batch)

    return strategy.experimental_distribute_values_from_function(part)


def _slice(a: np.ndarray, i: int, r: int) -> np.ndarray:
    """Replica ``i``'s contiguous share of a global batch split ``r`` ways."""
    size = len(a)
    lo, hi = (size * i) // r, (size * (i + 1)) // r
    return a[lo:hi]
