"""The compiled training step is traced once for every history width of a batch size
(issue 14: each retrace cost ~0.7–1 s at MovieLens-20M shape)."""

from __future__ import annotations

import numpy as np
import pytest


def test_one_trace_for_every_width_and_one_more_for_a_smaller_last_batch():
    tf = pytest.importorskip("tensorflow")
    from recsys_engine.models.keras_backend import keras_backend
    from recsys_engine.models.keras_fit import compiled_step

    keras = keras_backend()
    items = keras.Input((None,), dtype="int32")
    pooled = keras.ops.mean(keras.layers.Embedding(10, 4)(items), axis=1)
    model = keras.Model(items, keras.layers.Dense(1)(pooled))
    step = compiled_step(
        model,
        keras.optimizers.Adam(),
        lambda y, p: keras.ops.square(y - p[:, 0]),
        tf.distribute.get_strategy(),
    )
    step(np.ones((4, 3), np.int32), np.zeros(4, np.float32), 4)
    # (the first call may trace twice: the optimizer creates its slots in the first trace)
    first = step.compiled.experimental_get_tracing_count()
    for width in (5, 8, 2):
        step(np.ones((4, width), np.int32), np.zeros(4, np.float32), 4)
    assert step.compiled.experimental_get_tracing_count() == first
    step(np.ones((2, 5), np.int32), np.zeros(2, np.float32), 2)  # an epoch's last batch
    assert step.compiled.experimental_get_tracing_count() == first + 1
