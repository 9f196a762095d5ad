"""The compiled training step is traced once for every history width of a batch size
(issue 14: each retrace cost ~0.7–1 s at MovieLens-20M shape)."""

from __future__ import annotations

import numpy as np
import pytest


def _step(any_width: bool):
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from recsys_engine.models.keras_backend import keras_backend
    from recsys_engine.models.keras_fit import compiled_step

    keras = keras_backend()
    items = keras.Input((None,), dtype="int32")
    pooled = keras.ops.mean(keras.layers.Embedding(10, 4)(items), axis=1)
    model = keras.Model(items, keras.layers.Dense(1)(pooled))
    return compiled_step(
        model,
        keras.optimizers.Adam(),
        lambda y, p: keras.ops.square(y - p[:, 0]),
        tf.distribute.get_strategy(),
        any_width,
    )


def _traces(step, shapes) -> int:
    for rows, width in shapes:
        step(np.ones((rows, width), np.int32), np.zeros(rows, np.float32), rows)
    return step.compiled.experimental_get_tracing_count()


def test_one_trace_for_every_width_and_one_more_for_a_smaller_last_batch():
    step = _step(any_width=True)
    # (the first call may trace twice: the optimizer creates its slots in the first trace)
    first = _traces(step, [(4, 3)])
    assert _traces(step, [(4, 5), (4, 8), (4, 2)]) == first
    assert _traces(step, [(2, 5)]) == first + 1  # an epoch's smaller last batch


def test_without_any_width_a_fixed_width_keeps_its_exact_trace():
    """Models whose inputs never change width (Mult-VAE's catalogue-wide rows, the
    sequence models' fixed windows) keep the trace of the exact shapes; a second width
    would be traced again (what ``any_width`` saves the history bags)."""
    step = _step(any_width=False)
    first = _traces(step, [(4, 3)])
    assert _traces(step, [(4, 3), (4, 3)]) == first
    assert _traces(step, [(4, 5)]) == first + 1
