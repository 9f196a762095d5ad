"""``LazyAdam`` (issue 14's epoch speed): a sparse gradient updates only the rows it names —
moments, weights, weight decay and the weight average — and a dense one is Keras' Adam."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from recsys_engine.models.lazy_adam import LazyAdam  # noqa: E402

START = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)


def _sparse(rows, values):
    return tf.IndexedSlices(
        tf.constant(values, tf.float32), tf.constant(rows, tf.int32), tf.constant([3, 2])
    )


def _dense(rows, values):
    return tf.convert_to_tensor(_sparse(rows, values))


def _run(optimizer, grads):
    """Apply each gradient in one compiled step (as ``fit_keras`` does); returns the
    variable and its value after every step."""
    var = keras.Variable(START.copy())
    optimizer.build([var])

    @tf.function
    def step(g):
        optimizer.apply_gradients([(g, var)])

    after = []
    for g in grads:
        step(g)
        after.append(np.array(var))
    return var, after


def test_first_step_moves_touched_rows_like_adam_and_leaves_the_others():
    # row 0 is named twice (its slices add up to (1, 0)); row 1 is not named
    grad = ([0, 2, 0], [[0.5, -1.0], [2.0, 0.1], [0.5, 1.0]])
    _, (lazy,) = _run(LazyAdam(learning_rate=0.1), [_sparse(*grad)])
    # Adam's first step is lr · g / |g| per coordinate (0 where g = 0), by hand:
    np.testing.assert_allclose(lazy, [[0.9, 2.0], [3.0, 4.0], [4.9, 5.9]], atol=1e-5)
    _, (dense,) = _run(keras.optimizers.Adam(learning_rate=0.1), [_dense(*grad)])
    np.testing.assert_allclose(lazy, dense, rtol=1e-6)


def test_untouched_rows_keep_their_weights_where_dense_adam_moves_them():
    grads = [([0, 2], [[1.0, 1.0], [1.0, 1.0]]), ([0], [[-1.0, 2.0]])]
    _, lazy = _run(LazyAdam(learning_rate=0.1), [_sparse(*g) for g in grads])
    _, dense = _run(keras.optimizers.Adam(learning_rate=0.1), [_dense(*g) for g in grads])
    # row 0 was named at both steps: the same moments, the same weights as dense Adam
    np.testing.assert_allclose(lazy[1][0], dense[1][0], rtol=1e-6)
    # row 2 was named at the first step only: lazy keeps it, dense Adam's momentum moves it
    np.testing.assert_array_equal(lazy[1][2], lazy[0][2])
    assert np.abs(dense[1][2] - dense[0][2]).min() > 0.01
    np.testing.assert_array_equal(lazy[1][1], START[1])


def test_a_row_touched_again_first_takes_the_momentum_steps_it_skipped():
    """Row 0 is named at steps 1 and 4 (row 1 at every step, so steps go on). At step 4 it
    first takes the 2 skipped steps of dense Adam with a zero gradient at once:
    w ← w − α₄ m / √v · (r + r²), r = β₁/√β₂, m ← β₁² m, v ← β₂² v, then its Adam step."""
    b1, b2, lr = 0.9, 0.999, 0.1
    g0, g1, other = [[1.0, -2.0]], [[0.5, 0.5]], [[1.0, 1.0]]
    grads = [([0, 1], g0 + other), ([1], other), ([1], other), ([0, 1], g1 + other)]
    _, lazy = _run(LazyAdam(learning_rate=lr), [_sparse(*g) for g in grads])
    # by hand, row 0: after step 1, m = 0.1 g0, v = 0.001 g0², w = lazy[0][0]
    g0, g1 = np.array(g0[0]), np.array(g1[0])
    m, v, w = (1 - b1) * g0, (1 - b2) * g0**2, lazy[0][0].astype(np.float64)
    alpha = lr * np.sqrt(1 - b2**4) / (1 - b1**4)
    r = b1 / np.sqrt(b2)
    caught = w - alpha * m / (np.sqrt(v) + 1e-7) * (r + r**2)
    m2, v2 = m * b1**2, v * b2**2
    m2, v2 = m2 + (g1 - m2) * (1 - b1), v2 + (g1**2 - v2) * (1 - b2)
    np.testing.assert_allclose(lazy[3][0], caught - alpha * m2 / (np.sqrt(v2) + 1e-7), rtol=1e-5)
    # dense Adam (zero gradient on row 0 at steps 2 and 3) ends far closer to it than
    # to the lazy step without the catch-up (the skipped steps' own α differ a little
    # from α₄ this early: bias correction)
    _, dense = _run(keras.optimizers.Adam(learning_rate=lr), [_dense(*g) for g in grads])
    m3, v3 = m + (g1 - m) * (1 - b1), v + (g1**2 - v) * (1 - b2)
    no_catch_up = w - alpha * m3 / (np.sqrt(v3) + 1e-7)
    error = np.abs(lazy[3][0] - dense[3][0]).max()
    assert error < 0.25 * np.abs(no_catch_up - dense[3][0]).max()


def test_dense_gradients_train_exactly_as_keras_adam_with_its_average():
    grads = [_dense([0, 1], [[1.0, -2.0], [0.5, 0.5]]), _dense([2], [[3.0, 1.0]])]
    settings = {"learning_rate": 0.05, "use_ema": True, "ema_momentum": 0.5}
    lazy_opt, keras_opt = LazyAdam(**settings), keras.optimizers.Adam(**settings)
    lazy_var, lazy = _run(lazy_opt, grads)
    keras_var, dense = _run(keras_opt, grads)
    np.testing.assert_array_equal(lazy[-1], dense[-1])
    lazy_opt.finalize_variable_values([lazy_var])
    keras_opt.finalize_variable_values([keras_var])
    np.testing.assert_array_equal(np.array(lazy_var), np.array(keras_var))


def test_the_weight_average_of_sparse_rows_is_exact():
    """μ = 0.5; step 0 names rows 0 and 2, step 1 row 2, step 2 row 0, row 1 never. The
    dense average w̄_t = μ w̄_{t−1} + (1 − μ) w_t (w̄_0 = w_0) of the weights after each
    step is, by hand: row 0 = ½ w_0 + ½ w_2 (its weight did not change at step 1),
    row 1 = its starting weight, row 2 = ¼ w_0 + ¾ w_1."""
    grads = [
        _sparse([0, 2], [[1.0, -1.0], [2.0, 2.0]]),
        _sparse([2], [[-1.0, 0.5]]),
        _sparse([0], [[0.5, 3.0]]),
    ]
    optimizer = LazyAdam(learning_rate=0.1, use_ema=True, ema_momentum=0.5)
    var, after = _run(optimizer, grads)
    w0, w1, w2 = after
    optimizer.finalize_variable_values([var])
    average = np.array(var)
    np.testing.assert_allclose(average[0], 0.5 * w0[0] + 0.5 * w2[0], rtol=1e-6)
    np.testing.assert_array_equal(average[1], START[1])
    np.testing.assert_allclose(average[2], 0.25 * w0[2] + 0.75 * w1[2], rtol=1e-6)
    # the same as averaging every row densely over the weights' trajectory
    dense = w0.copy()
    for w in (w1, w2):
        dense = 0.5 * dense + 0.5 * w
    np.testing.assert_allclose(average, dense, rtol=1e-6)


def test_catching_up_twice_changes_nothing_and_training_goes_on():
    """The fit loop validates on the average mid-training (finalize, then the raw weights
    back) and trains on: catching up is idempotent and keeps later steps exact."""
    grads = [_sparse([0], [[1.0, 1.0]]), _sparse([1], [[1.0, -1.0]])]
    optimizer = LazyAdam(learning_rate=0.1, use_ema=True, ema_momentum=0.5)
    var, (w0, w1) = _run(optimizer, grads)
    optimizer.catch_up_averages()
    optimizer.catch_up_averages()
    index = optimizer._get_variable_index(var)
    average = np.array(optimizer._model_variables_moving_average[index])
    np.testing.assert_allclose(average, 0.5 * w0 + 0.5 * w1, rtol=1e-6)

    @tf.function
    def step(g):
        optimizer.apply_gradients([(g, var)])

    step(_sparse([2], [[1.0, 1.0]]))
    w2 = np.array(var)
    optimizer.finalize_variable_values([var])
    np.testing.assert_allclose(np.array(var), 0.25 * w0 + 0.25 * w1 + 0.5 * w2, rtol=1e-6)


def test_weight_decay_shrinks_only_the_touched_rows():
    grads = [_sparse([0], [[1.0, -1.0]])]
    _, (after,) = _run(LazyAdam(learning_rate=0.1, weight_decay=0.5), grads)
    # decay first, w ← w − lr·wd·w = 0.95 w, then Adam's first step lr·g/|g|
    np.testing.assert_allclose(after[0], [0.95 - 0.1, 1.9 + 0.1], atol=1e-5)
    np.testing.assert_array_equal(after[1:], START[1:])


def test_sampled_towers_read_and_regularise_only_the_batchs_rows():
    """With a sampled loss the ID tables' gradients name the batch's rows only — history
    items for the input table, targets for the output table — and the L2 penalty is the
    full-table penalty's terms of those rows: l2 · Σ‖row‖²."""
    from recsys_engine.models.keras_layers import PooledTowers
    from recsys_engine.models.pooled_examples import padded_history

    layer = PooledTowers(8, id_dim=2, mode="sampled_softmax", l2=0.5, seed=1)
    layer.build(None)
    table_in = np.arange(16, dtype=np.float32).reshape(8, 2) / 10
    table_out = -np.arange(16, dtype=np.float32).reshape(8, 2) / 10
    layer.id_in.assign(table_in)
    layer.id_out.assign(table_out)
    layer.set_catalogue(None, np.ones(8, np.float32), np.zeros(8, np.float32))
    history = sp.csr_matrix(np.array([[1, 0, 1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0]]))
    items, weights = padded_history(history.astype(np.float32))
    inputs = {"history_items": items, "history_weights": weights, "target": np.array([5, 7])}
    with tf.GradientTape() as tape:
        logits = layer(inputs, training=True)
        penalty = tf.add_n(layer.losses)
        total = penalty + tf.reduce_sum(logits)
    expected = 0.5 * (np.square(table_in[[0, 2]]).sum() + np.square(table_out[[5, 7]]).sum())
    np.testing.assert_allclose(float(penalty), expected, rtol=1e-6)
    assert tuple(logits.shape) == (2, 2)
    grads = tape.gradient(total, [layer.id_in, layer.id_out])
    assert all(isinstance(g, tf.IndexedSlices) for g in grads)
    assert set(np.asarray(grads[0].indices).tolist()) == {0, 2}
    assert set(np.asarray(grads[1].indices).tolist()) == {5, 7}


def test_fit_keras_with_sparse_updates_validates_and_keeps_the_rows_average():
    """fit_keras with ``sparse_updates``: a 3-row embedding (all ones), each step names
    row 0 with gradient 1, Adam lr 0.1, ema 0.5. Row 0 goes 0.9, 0.8, 0.7, 0.6 and its
    average 0.9, 0.85, 0.775, 0.6875 (as dense Adam's); rows 1 and 2 are never read and
    stay 1 in the weights and the average. Validation sees the averages, the best epoch's
    average is kept, and training goes on from the raw weights in between."""
    from recsys_engine.models.keras_config import KerasTrainConfig
    from recsys_engine.models.keras_fit import fit_keras

    def build():
        x = keras.Input((1,), dtype="int32", name="x")
        table = keras.layers.Embedding(3, 1, embeddings_initializer="ones", name="e")
        return keras.Model(x, table(x))

    class Source:
        def new_epoch(self, rng):
            return 1

        def batch(self, index):
            return np.zeros((1, 1), "int32"), np.zeros((1,), "float32")

    seen = []

    def validate(model):
        table = model.get_weights()[0][:, 0]
        seen.append(table.copy())
        return -abs(float(table[0]) - 0.78)  # closest at epoch 3

    cfg = KerasTrainConfig(epochs=4, batch_size=1, learning_rate=0.1, patience=0, ema=0.5)
    model, result = fit_keras(
        build,
        Source(),
        cfg,
        loss=lambda y, p: p[:, 0, 0],
        validate=validate,
        sparse_updates=True,
    )
    np.testing.assert_allclose([s[0] for s in seen], [0.9, 0.85, 0.775, 0.6875], atol=1e-4)
    np.testing.assert_array_equal(np.array(seen)[:, 1:], 1.0)
    assert result.best_epoch == 3
    np.testing.assert_allclose(model.get_weights()[0][:, 0], [0.775, 1.0, 1.0], atol=1e-4)


def test_the_update_is_padded_to_a_few_row_counts_and_the_padding_writes_nothing():
    """The fused update runs on ``_bucket`` rows (compiled once per count): the count
    rounded up to a multiple of max(64, 2^(⌊log₂ count⌋ − 3)), at most the table's rows.
    The padding reads row 0; a step that does not name row 0 leaves its weight, moments
    and step stamp as they were."""
    from recsys_engine.models.lazy_adam import _bucket

    counts = [1, 100, 1000, 15000, 20000]
    # by hand: quanta 64, 64, 64, 1024, 2048
    assert [int(_bucket(tf.constant(c), 1_000_000)) for c in counts] == [
        64,
        128,
        1024,
        15360,
        20480,
    ]
    assert int(_bucket(tf.constant(100), 110)) == 110

    start = np.arange(200, dtype=np.float32).reshape(100, 2)
    var = keras.Variable(start.copy())
    optimizer = LazyAdam(learning_rate=0.1, use_ema=True, ema_momentum=0.5)
    optimizer.build([var])
    grad = tf.IndexedSlices(tf.ones((2, 2)), tf.constant([5, 7]), tf.constant([100, 2]))
    tf.function(lambda: optimizer.apply_gradients([(grad, var)]))()
    after = np.array(var)
    np.testing.assert_allclose(after[[5, 7]], start[[5, 7]] - 0.1, atol=1e-5)
    untouched = np.delete(np.arange(100), [5, 7])
    np.testing.assert_array_equal(after[untouched], start[untouched])
    index = optimizer._get_variable_index(var)
    for table in (optimizer._momentums[index], optimizer._velocities[index]):
        assert not np.array(table)[untouched].any() and np.array(table)[[5, 7]].all()
    stamps = np.array(optimizer._touched_steps[index])
    assert stamps[[5, 7]].tolist() == [1, 1] and not stamps[untouched].any()


def test_a_row_penalty_is_added_to_the_named_rows_gradient_in_the_update():
    """``penalise_rows(var, l2=0.5, scale, column=1)``: the rows a step names get the
    gradient g + 2 · l2 · s_r · w_r. Row 0 (w = (1, 2), s = 1, g = (0.5, −1)) gets
    (1.5, 1.0), so Adam's first step lr · g/|g| moves it by −0.1 on both coordinates, where
    without the penalty the second one rises; row 2 (s = 0) moves as without a penalty;
    row 1 is not named and keeps its weight despite its penalty weight."""
    scale = keras.Variable(np.array([[9.0, 1.0], [9.0, 5.0], [9.0, 0.0]], np.float32))
    optimizer = LazyAdam(learning_rate=0.1)
    var = keras.Variable(START.copy())
    optimizer.build([var])
    optimizer.penalise_rows(var, 0.5, scale, 1)
    grad = _sparse([0, 2], [[0.5, -1.0], [2.0, 0.1]])
    tf.function(lambda: optimizer.apply_gradients([(grad, var)]))()
    np.testing.assert_allclose(np.array(var), [[0.9, 1.9], [3.0, 4.0], [4.9, 5.9]], atol=1e-5)


def test_a_row_penalty_in_the_update_trains_as_the_same_penalty_in_the_loss():
    """Four steps naming different rows, with momentum catch-up and the weight average:
    the penalty applied by the optimizer gives the weights and averages of a loss that
    adds l2 · Σ s_r ‖w_r‖² over the rows named (its gradient computed by TensorFlow)."""
    s = np.array([[1.0], [2.0], [0.5]], np.float32)
    named = [[0, 2], [1], [1], [0, 1]]
    values = [[[1.0, -2.0], [0.5, 0.5]], [[1.0, 1.0]], [[-1.0, 0.2]], [[0.3, 0.3], [2.0, -1.0]]]
    settings = {"learning_rate": 0.05, "use_ema": True, "ema_momentum": 0.8}

    def train(in_update: bool):
        var = keras.Variable(START.copy())
        optimizer = LazyAdam(**settings)
        optimizer.build([var])
        if in_update:
            optimizer.penalise_rows(var, 0.3, keras.Variable(s), 0)

        @tf.function
        def step(rows, data):
            rows = tf.constant(rows)
            with tf.GradientTape() as tape:
                read = tf.gather(var.value, rows)
                loss = tf.reduce_sum(read * data)
                if not in_update:
                    loss += 0.3 * tf.reduce_sum(tf.gather(s, rows) * tf.square(read))
            (g,) = tape.gradient(loss, [var.value])
            optimizer.apply_gradients([(g, var)])

        for rows, data in zip(named, values, strict=True):
            step(rows, tf.constant(data))
        weights = np.array(var)
        optimizer.finalize_variable_values([var])
        return weights, np.array(var)

    (w_update, avg_update), (w_loss, avg_loss) = train(True), train(False)
    np.testing.assert_allclose(w_update, w_loss, rtol=1e-6)
    np.testing.assert_allclose(avg_update, avg_loss, rtol=1e-6)
    assert np.abs(w_update - train_without_penalty(named, values, settings)).max() > 1e-3


def train_without_penalty(named, values, settings) -> np.ndarray:
    """The weights the same steps give without any penalty (the test's control)."""
    var = keras.Variable(START.copy())
    optimizer = LazyAdam(**settings)
    optimizer.build([var])
    for rows, data in zip(named, values, strict=True):
        grad = _sparse(rows, data)
        tf.function(lambda g=grad: optimizer.apply_gradients([(g, var)]))()
    return np.array(var)


def test_a_penalised_table_with_a_dense_gradient_is_refused():
    var = keras.Variable(START.copy())
    optimizer = LazyAdam(learning_rate=0.1)
    optimizer.build([var])
    optimizer.penalise_rows(var, 0.1)
    with pytest.raises(ValueError, match="dense gradient"):
        optimizer.apply_gradients([(_dense([0], [[1.0, 1.0]]), var)])


def test_the_towers_hand_their_rows_penalty_to_the_optimizer_and_train_the_same():
    """``hand_row_penalties``: the sampled towers stop adding the rows' L2 penalty to their
    loss and the optimizer applies it; three steps end at the same tables either way."""
    from recsys_engine.models.keras_layers import PooledTowers
    from recsys_engine.models.lazy_adam import hand_row_penalties
    from recsys_engine.models.pooled_examples import padded_history

    history = sp.csr_matrix(np.array([[1, 0, 1, 0, 0, 0], [0, 1, 1, 0, 1, 0]], np.float32))
    items, weights = (tf.constant(a) for a in padded_history(history))
    batches = [tf.constant(t, tf.int32) for t in ([3, 5], [0, 3], [5, 4])]
    scale = np.linspace(0.5, 3.0, 12, dtype=np.float32).reshape(6, 2)

    def train(hand: bool):
        keras.utils.set_random_seed(0)
        layer = PooledTowers(6, id_dim=3, mode="sampled_softmax", l2=0.2, read_scaled_l2=True)
        inputs = {
            "history_items": keras.Input((None,), dtype="int32", name="history_items"),
            "history_weights": keras.Input((None,), name="history_weights"),
            "target": keras.Input((), dtype="int32", name="target"),
        }
        model = keras.Model(inputs, layer(inputs))
        layer.set_catalogue(None, np.ones(6, np.float32), np.zeros(6, np.float32), scale)
        optimizer = LazyAdam(learning_rate=0.05)
        optimizer.build(model.trainable_variables)
        if hand:
            hand_row_penalties(model, optimizer)

        @tf.function
        def step(target):
            x = {"history_items": items, "history_weights": weights, "target": target}
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(model(x, training=True))
                if model.losses:
                    loss += tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return len(model.losses)

        counts = [int(step(t)) for t in batches]
        return counts, np.array(layer.id_in), np.array(layer.id_out)

    (n_handed, in_handed, out_handed), (n_loss, in_loss, out_loss) = train(True), train(False)
    assert n_handed == [0, 0, 0] and n_loss == [1, 1, 1]
    np.testing.assert_allclose(in_handed, in_loss, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out_handed, out_loss, rtol=1e-5, atol=1e-7)


def test_the_id_mask_multiply_is_skipped_only_when_it_changes_nothing():
    from recsys_engine.models.keras_layers import _kept

    rows = tf.constant([[1.0, -2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(_kept(rows, tf.constant([1.0, 1.0])), rows)
    np.testing.assert_array_equal(_kept(rows, tf.constant([1.0, 0.0])), [[1.0, -2.0], [0, 0]])
