"""Early stopping's two extra copies of the weights without table-sized temporaries (issue
14: the 3M-row log trained to its stopping rule peaked 3 GiB above one epoch from them)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from recsys_engine.models import create_model, weight_copies  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 5 rows: a 23-row table is four whole blocks and a partial one."""
    monkeypatch.setattr(weight_copies, "BLOCK_ROWS", 5)


def _model(rows: int = 23, width: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = keras.Input((2,), name="x")
    table = keras.layers.Embedding(rows, width, name="table")
    small = keras.layers.Dense(width, name="small")
    model = keras.Model(x, small(table(keras.ops.cast(x, "int32"))), name="m")
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.weights])
    return model


def _with_averages(seed: int, model=None):
    """``model``'s (default ``_model()``) trainable variables, an Adam with a weight average
    built for them, and the random averages it was given (in variable order)."""
    variables = (model or _model()).trainable_variables
    optimizer = keras.optimizers.Adam(use_ema=True)
    optimizer.build(variables)
    rng = np.random.default_rng(seed)
    averages = [rng.normal(size=v.shape).astype(np.float32) for v in variables]
    for v, a in zip(variables, averages, strict=True):
        optimizer._model_variables_moving_average[optimizer._get_variable_index(v)].assign(a)
    return variables, optimizer, averages


def _assert_values(arrays, wanted) -> None:
    for a, want in zip(arrays, wanted, strict=True):
        np.testing.assert_array_equal(np.array(a), want)


def test_swapping_with_the_averages_puts_them_in_the_model_and_swapping_again_undoes_it(
    small_blocks,
):
    variables, optimizer, averages = _with_averages(1)
    raw = [np.array(v) for v in variables]

    weight_copies.swap_with_averages(optimizer, variables)
    _assert_values(variables, averages)
    weight_copies.swap_with_averages(optimizer, variables)
    _assert_values(variables, raw)
    _assert_values(optimizer._model_variables_moving_average, averages)


def test_overwriting_with_the_averages_puts_them_in_the_model_and_keeps_them(small_blocks):
    """The end of training: the averages go into the model (the 23-row table in blocks
    of 5 rows) and stay in the optimizer, so doing it twice changes nothing."""
    variables, optimizer, averages = _with_averages(2)
    for _ in range(2):
        weight_copies.overwrite_with_averages(optimizer, variables)
        _assert_values(variables, averages)
        _assert_values(optimizer._model_variables_moving_average, averages)


@pytest.mark.parametrize("spill", [False, True])
def test_best_weights_come_back_bit_for_bit_from_memory_or_from_their_file(
    small_blocks, monkeypatch, spill
):
    monkeypatch.setattr(weight_copies, "SPILL_BYTES", 0 if spill else 1 << 30)
    model = _model()
    kept = [np.array(w) for w in model.weights]
    best = weight_copies.BestWeights(model)
    assert best.spilled is spill
    model.set_weights([w + 1.0 for w in kept])

    best.restore(model)
    for w, want in zip(model.weights, kept, strict=True):
        np.testing.assert_array_equal(np.array(w), want)
    folder = best._dir.name if spill else None
    best.close()
    if spill:
        import os

        assert not os.path.exists(folder)


@pytest.mark.parametrize("spill", [False, True])
def test_best_weights_read_from_the_averages_keep_the_averages_and_leave_the_model_alone(
    small_blocks, monkeypatch, spill
):
    """Early stopping's copy of a new best read from the optimizer's averages where they
    are (``early_stopping.averaged_source``): restoring it gives the model the averages
    bit for bit, and taking it changed neither the model nor the averages."""
    from recsys_engine.models.early_stopping import averaged_source

    monkeypatch.setattr(weight_copies, "SPILL_BYTES", 0 if spill else 1 << 30)
    model = _model()
    assert len(model.weights) == len(model.trainable_variables)  # every weight is averaged
    _, optimizer, averages = _with_averages(3, model)
    raw = [np.array(w) for w in model.weights]

    best = weight_copies.BestWeights(model, averaged_source(optimizer))
    assert best.spilled is spill
    _assert_values(model.weights, raw)
    _assert_values(optimizer._model_variables_moving_average, averages)
    best.restore(model)
    _assert_values(model.weights, averages)
    best.close()


def test_training_with_spilled_best_weights_is_the_same_as_in_memory(monkeypatch, small_blocks):
    """A sampled-softmax two-tower with the weight average and early stopping (the path of
    big catalogues) gives the same scores whether its best weights stay in memory or go
    to a file."""
    users, items = 60, 400
    m = sp.random(users, items, density=0.05, random_state=1, format="csr", dtype=np.float32)
    m.data[:] = 1.0
    m.sort_indices()
    val = sp.random(users, items, density=0.01, random_state=2, format="csr", dtype=np.float32)
    val.data[:] = 1.0
    data = TrainData(
        matrix=m,
        user_ids=np.array([f"u{u}" for u in range(users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(items)], dtype=object),
        validation=val,
    )
    config = {"loss": "sampled_softmax", "epochs": 4, "patience": 1, "smoothing": 1, "dim": 8}
    config["ema"] = 0.9

    def scores(spill_bytes: int) -> tuple[np.ndarray, int]:
        monkeypatch.setattr(weight_copies, "SPILL_BYTES", spill_bytes)
        model = create_model("two_tower", config).fit(data)
        return model.score(m[:5]), model.fit_result.best_epoch

    in_memory, best_a = scores(1 << 30)
    spilled, best_b = scores(0)
    assert best_a == best_b
    assert best_a < 4, "the best epoch must be restored (not the last) for the test to bite"
    np.testing.assert_array_equal(in_memory, spilled)


def test_catalogue_arrays_read_by_blocks_equal_the_whole_catalogue(monkeypatch):
    """The ID-only towers' scoring arrays, read a few rows at a time, are the whole-table
    computation's, bit for bit (items without training interactions included)."""
    from recsys_engine.models import keras_layers

    users, items = 40, 23
    m = sp.random(users, items, density=0.2, random_state=3, format="csr", dtype=np.float32)
    m.data[:] = 1.0
    m = sp.csr_matrix(m.toarray() * (np.arange(items) % 7 != 0))  # some items never seen
    data = TrainData(
        matrix=m,
        user_ids=np.array([f"u{u}" for u in range(users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(items)], dtype=object),
    )
    config = {"loss": "sampled_softmax", "epochs": 1, "dim": 4, "item_bias": True}
    model = create_model("two_tower", config).fit(data)
    layer = model._keras_model.get_layer("towers")
    monkeypatch.setattr(keras_layers, "CATALOGUE_ROWS", 5)
    blocks = keras_layers.catalogue_arrays(layer)
    v_in, v_out, bias = layer.catalogue(training=False)
    np.testing.assert_array_equal(blocks["v_in"], np.asarray(v_in))
    np.testing.assert_array_equal(blocks["v_out"], np.asarray(v_out))
    np.testing.assert_array_equal(blocks["bias"], np.asarray(bias))
    assert (blocks["v_in"][::7] == 0).all()  # the unseen items' ID part is off
