"""After ``fit`` the optimizer's state is freed (issue 14's memory on the 3M-row log).

The trained Keras model is kept for scoring and ``save``, but the L2 loss its towers added
during the last traced training step used to stay in the layer, and with it the step's
graph and every variable that graph captured: the Adam moments and the weight average,
six tables of the catalogue's size (2.1 GiB at 186k items × 512) alive through the whole
evaluation (BENCHMARKS.md).
"""

from __future__ import annotations

import weakref
from unittest import mock

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from small_log_support import random_log, with_validation  # noqa: E402

from recsys_engine.models import create_model, keras_fit  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402


def _train_data() -> TrainData:
    """A small random implicit log (every entry 1)."""
    return random_log(60, 400, density=0.05, seed=1)


def test_fit_frees_the_optimizer_tables_the_training_step_captured():
    """A sampled-softmax two-tower with an L2 penalty (the towers' ``add_loss``): after
    ``fit`` no handle of an optimizer variable (moments, weight average, row counters)
    is alive any more, the kept model holds no loss of the training graph, and it still
    scores."""
    handles: list[weakref.ref] = []
    build_optimizer = keras_fit.build_optimizer

    def watched(keras, config, model, *args, **kwargs):
        optimizer = build_optimizer(keras, config, model, *args, **kwargs)
        # the optimizer's own variables (the rows' penalty weights it reads are the model's)
        own = [v for v in optimizer.variables if not any(v is w for w in model.weights)]
        handles.extend(weakref.ref(v.value.handle) for v in own)
        return optimizer

    config = {"loss": "sampled_softmax", "l2": 1e-3, "epochs": 2, "patience": 0, "dim": 8}
    data = _train_data()
    with mock.patch.object(keras_fit, "build_optimizer", watched):
        model = create_model("two_tower", config).fit(data)
    assert handles, "the optimizer was not built through build_optimizer"
    alive = [ref() for ref in handles if ref() is not None]
    assert not alive, f"{len(alive)} optimizer variables outlive fit"
    assert model._keras_model.losses == []
    scores = model.score(data.matrix[:3])
    assert scores.shape == (3, 400) and np.isfinite(scores).all()


def test_the_weight_average_is_caught_up_by_blocks_of_rows_without_reading_a_table_whole():
    """``catch_up_averages`` at the end of training (and before each validation) brings the
    averages up to date a block of rows at a time: the same values, bit for bit, as the
    whole-table formula, without reading a table or its average whole (each such read was
    a 0.38 GB copy at 186k × 512, with the blend's temporaries the fit's peak memory)."""
    from recsys_engine.models import lazy_adam

    rows, width = 23, 3  # blocks of 5 rows below: four whole blocks and a partial one
    rng = np.random.default_rng(0)
    var = keras.Variable(rng.normal(size=(rows, width)).astype(np.float32))
    optimizer = lazy_adam.LazyAdam(learning_rate=0.05, use_ema=True, ema_momentum=0.9)
    optimizer.build([var])

    @tf.function
    def step(grad_rows):
        values = tf.ones((tf.shape(grad_rows)[0], width))
        optimizer.apply_gradients([(tf.IndexedSlices(values, grad_rows, (rows, width)), var)])

    for _ in range(6):  # uneven coverage: some rows often, some rarely, some never
        step(tf.constant(np.unique(rng.integers(0, rows - 4, size=6)), tf.int32))
    index = optimizer._get_variable_index(var)
    average = optimizer._model_variables_moving_average[index]
    steps_var = optimizer._average_steps[index]
    whole_average = tf.constant(np.array(average))
    decay, never = lazy_adam._decay(
        tf.constant(np.array(steps_var)),
        tf.cast(optimizer.iterations, "int64"),
        optimizer.ema_momentum,
        whole_average,
    )
    expected = lazy_adam._blend(whole_average, tf.constant(np.array(var)), decay, never).numpy()
    assert (np.array(steps_var) == 0).any() and (np.array(steps_var) > 0).any()

    whole_reads: list[tuple[int, ...]] = []
    convert = lazy_adam.ops.convert_to_tensor

    def watched(x, *args, **kwargs):
        out = convert(x, *args, **kwargs)
        if len(out.shape) == 2:
            whole_reads.append(tuple(out.shape))
        return out

    with mock.patch.object(lazy_adam, "CATCH_UP_ROWS", 5, create=True):
        with mock.patch.object(lazy_adam.ops, "convert_to_tensor", watched):
            optimizer.catch_up_averages()
    assert whole_reads == []
    np.testing.assert_array_equal(np.array(average), expected)
    assert (np.array(steps_var) == int(optimizer.iterations)).all()


def test_training_and_loading_leave_no_gradient_closure_in_tensorflows_registry(tmp_path):
    """The towers' CSR products register a gradient closure per trace in TensorFlow's
    process-wide registry, which would keep each traced graph (and every variable it
    read) alive for good: after ``fit`` and after loading the saved file, none is left."""
    from tensorflow.python.framework import ops

    registry = ops._gradient_registry._registry
    before = set(registry)
    config = {"loss": "sampled_softmax", "epochs": 1, "patience": 0, "dim": 8}
    for name in ("two_tower", "hybrid"):
        data = _train_data()
        if name == "hybrid":  # content: one of three genres per item
            data.items = pd.DataFrame(
                {
                    "item_id": data.item_ids,
                    "title": [f"title {i}" for i in range(400)],
                    "text": ["" for _ in range(400)],
                    "categories": [[f"genre{i % 3}"] for i in range(400)],
                    "numeric": ["{}" for _ in range(400)],
                }
            )
        model = create_model(name, config).fit(data)
        assert set(registry) == before, f"{name}: fit left gradient closures registered"
        model.save(tmp_path / name)
        loaded = type(model).load(tmp_path / name)
        assert set(registry) == before, f"{name}: loading left gradient closures registered"
        np.testing.assert_allclose(
            loaded.score(data.matrix[:2]), model.score(data.matrix[:2]), rtol=1e-5
        )


def test_validations_rebuild_the_catalogue_into_the_same_arrays_and_end_with_the_final_ones():
    """Each validation's catalogue rebuild writes into the arrays of the one before (no
    fresh catalogue-sized arrays at every epoch), and the fitted model's arrays are those
    same arrays holding the final weights' values (a fresh ``catalogue_arrays`` of the
    trained layer), with the popularity prior on the bias."""
    from recsys_engine.models import keras_layers
    from recsys_engine.models.keras_layers import catalogue_arrays

    train = with_validation(_train_data(), every=7)
    seen: list[int] = []
    real = keras_layers.catalogue_arrays

    def recorded(layer, into=None, read=None):
        arrays = real(layer, into=into, read=read)
        seen.append(id(arrays["v_in"]))
        return arrays

    model = create_model("two_tower", {"epochs": 3, "patience": 0, "dim": 8, "seed": 3})
    with mock.patch.object(keras_layers, "catalogue_arrays", recorded):
        model.fit(train)
    assert len(seen) == 4 and len(set(seen)) == 1  # three validations and the final arrays
    assert id(model.v_in) == seen[0] and model._reused_arrays is None
    fresh = catalogue_arrays(model._keras_model.get_layer("towers"))
    np.testing.assert_array_equal(model.v_in, fresh["v_in"])
    np.testing.assert_array_equal(model.v_out, fresh["v_out"])
    assert not np.array_equal(model.bias, fresh["bias"])  # the prior is added to a copy
