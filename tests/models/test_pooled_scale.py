"""History-pooled models at catalogue scale (issue 14): the embedding-bag history input,
the sampled-softmax corrections, and a 50k-item catalogue whose training batches stay
bounded by the batch, not by users × items.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.models import create_model
from recsys_engine.models.data import TrainData
from recsys_engine.models.pooled_examples import HalfSplitSource, padded_history

OLD_FILE = Path(__file__).parent / "data" / "two_tower_dense_history"


def test_padded_history_lists_each_rows_items_then_padding():
    h = sp.csr_matrix(np.array([[0, 2.0, 0, 1.0], [0, 0, 0, 0], [3.0, 0, 0, 0]], np.float32))
    items, weights = padded_history(h)
    assert items.tolist() == [[1, 3], [0, 0], [0, 0]]
    assert weights.tolist() == [[2.0, 1.0], [0.0, 0.0], [3.0, 0.0]]
    # an all-empty batch still has one (padding) column
    items, weights = padded_history(sp.csr_matrix((2, 5), dtype=np.float32))
    assert items.shape == weights.shape == (2, 1) and not weights.any()


@pytest.mark.parametrize("mode", ["mean", "sqrt"])
def test_bag_pooling_equals_the_dense_computation(mode):
    from recsys_engine.models.keras_layers import HistoryPooling

    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0], [-2.0, 6.0]], np.float32)
    dense = np.array([[1.0, 0, 3.0, 0], [0, 2.0, 0, 0], [0, 0, 0, 0]], np.float32)
    items, weights = padded_history(sp.csr_matrix(dense))
    layer = HistoryPooling(mode)
    bag = np.asarray(layer([items, weights, vectors]))
    full = np.asarray(layer([dense, vectors]))
    # by hand: row 0 sums 1·(1,0) + 3·(4,4) = (13, 12); row 1 = 2·(0,2) = (0, 4)
    if mode == "mean":
        expected = [[13 / 4, 12 / 4], [0.0, 2.0], [0.0, 0.0]]
    else:
        expected = [[13 / np.sqrt(10), 12 / np.sqrt(10)], [0.0, 2.0], [0.0, 0.0]]
    np.testing.assert_allclose(bag, expected, rtol=1e-6)
    np.testing.assert_allclose(full, expected, rtol=1e-6)


def _towers(mode: str):
    from recsys_engine.models.keras_layers import PooledTowers

    layer = PooledTowers(6, id_dim=3, mode=mode, pooling="sqrt", seed=3)
    layer.build(None)
    rng = np.random.default_rng(0)
    layer.id_in.assign(rng.normal(size=(6, 3)).astype(np.float32))
    layer.id_out.assign(rng.normal(size=(6, 3)).astype(np.float32))
    layer.id_bias.assign(rng.normal(size=6).astype(np.float32))
    layer.set_catalogue(None, np.ones(6, np.float32), np.log(np.full(6, 1 / 6, np.float32)))
    return layer


@pytest.mark.parametrize("mode", ["softmax", "sampled_softmax", "bpr"])
def test_towers_give_the_same_logits_from_a_bag_and_from_a_dense_history(mode):
    """The bag input (training since issue 14) and the dense input (older files) agree in
    every mode, including the masking of a row's own history."""
    dense = np.array([[1, 0, 1, 0, 0, 0], [0, 1, 0, 0, 1, 1], [0, 0, 0, 1, 0, 0]], np.float32)
    items, weights = padded_history(sp.csr_matrix(dense))
    extra = {}
    if mode != "softmax":
        extra["target"] = np.array([3, 0, 2], np.int32)  # row 1's history holds none of them
    if mode == "bpr":
        extra["negative"] = np.array([5, 2, 4], np.int32)
    layer = _towers(mode)
    bag = np.asarray(layer({"history_items": items, "history_weights": weights, **extra}))
    full = np.asarray(layer({"history": dense, **extra}))
    np.testing.assert_allclose(bag, full, rtol=1e-5, atol=1e-5)
    if mode == "softmax":
        assert (bag[dense > 0] < -1e8).all() and (bag[dense == 0] > -1e8).all()
    if mode == "sampled_softmax":
        # row 0's history {0, 2} holds rows 1 and 2's targets, row 2's history {3} holds
        # row 0's target; row 1's history {1, 4, 5} holds none; diagonals stay
        masked = bag < -1e8
        assert masked.tolist() == [[False, True, True], [False] * 3, [True, False, False]]


def test_log_q_correction_subtracts_each_columns_log_probability():
    from recsys_engine.models.sampled_softmax import log_q_corrected

    logits = np.array([[2.0, 1.0], [0.5, 3.0]], np.float32)
    log_q = np.log(np.array([0.5, 0.25], np.float32))
    out = np.asarray(log_q_corrected(logits, log_q))
    expected = [[2.0 + np.log(2), 1.0 + np.log(4)], [0.5 + np.log(2), 3.0 + np.log(4)]]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_accidental_hits_are_removed_but_the_positives_stay():
    from recsys_engine.models.sampled_softmax import in_batch_softmax_loss, remove_accidental_hits

    logits = np.zeros((3, 3), np.float32)
    target = np.array([7, 9, 7], np.int32)  # rows 0 and 2 share their target
    in_history = np.array([[False, True, False], [False, False, False], [True, False, True]])
    out = np.asarray(remove_accidental_hits(logits, target, in_history))
    masked = out < -1e8
    # row 0: item 9 is in its history, item 7 (row 2's target) is its own target;
    # row 2: the diagonal stays even though in_history says so
    assert masked.tolist() == [[False, True, True], [False, False, False], [True, False, False]]
    # equal logits: row 0 keeps only its positive (loss 0), row 1 three (log 3), row 2
    # two (log 2)
    loss = np.asarray(in_batch_softmax_loss(None, out))
    np.testing.assert_allclose(loss, [0.0, np.log(3), np.log(2)], atol=1e-6)


def test_model_files_saved_with_a_dense_history_input_still_load():
    """``two_tower_dense_history`` was saved by the code before issue 14 (4-dim, 8 items,
    dense ``history`` input); its scores were recorded then."""
    from recsys_engine.models.two_tower import TwoTower

    model = TwoTower.load(OLD_FILE)
    assert [t.name for t in model._keras_model.inputs] == ["history"]
    h = sp.csr_matrix(np.array([[1, 0, 1, 0, 0, 0, 0, 0]], np.float32))
    recorded = [-1.1874348, -1.3783779, -1.3018215, -1.0004189]
    recorded += [-1.1525044, -1.3105808, -1.5707586, -1.2530224]
    np.testing.assert_allclose(model.score(h)[0], recorded, rtol=1e-5)


def big_catalogue(n_users: int = 40, n_items: int = 50_000) -> TrainData:
    """A few users with 5–60 items each from a 50k-item catalogue."""
    rng = np.random.default_rng(1)
    rows, cols = [], []
    for u in range(n_users):
        picked = rng.choice(n_items, int(rng.integers(5, 61)), replace=False)
        rows += [u] * len(picked)
        cols += picked.tolist()
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
    return TrainData(
        matrix=matrix,
        user_ids=np.array([f"u{u}" for u in range(n_users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(n_items)], dtype=object),
    )


@pytest.mark.parametrize("mode", ["sampled_softmax", "bpr"])
def test_big_catalogue_batches_are_bounded_by_the_batch(mode):
    """A training batch holds the batch's histories, not batch × 50k: its arrays are
    batch × (longest history) and building a whole epoch's batches allocates well under
    one dense batch × catalogue row block (16 × 50k floats = 3.2 MB)."""
    data = big_catalogue()
    source = HalfSplitSource(data.matrix, mode, 0.5)
    n = source.new_epoch(np.random.default_rng(0))
    longest = int(np.diff(data.matrix.indptr).max())
    tracemalloc.start()
    try:
        for start in range(0, n, 16):
            x, y = source.batch(np.arange(start, min(start + 16, n)))
            assert x["history_items"].shape[1] <= longest
            assert all(np.asarray(v).size <= 16 * longest for v in x.values())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 50_000 * 4 / 10


def test_each_row_gets_one_of_its_own_targets_at_random():
    """The sampled losses' one target per row is an item of the row that is not among
    its inputs this epoch, every such item equally likely (by symmetry, 1/4 each for a
    row of four items)."""
    x = sp.csr_matrix(
        (np.ones(9, np.float32), [1, 3, 5, 7, 0, 2, 2, 4, 6], [0, 4, 6, 9]), shape=(3, 8)
    )
    source = HalfSplitSource(x, "sampled_softmax", 0.5)
    rng = np.random.default_rng(0)
    chosen = np.zeros((3, 8))
    for _ in range(2000):
        assert source.new_epoch(rng) == 3
        for r in range(3):
            target = int(source.target[r])
            assert x[r, target] == 1 and source.inputs[r, target] == 0
            chosen[r, target] += 1
    share = chosen[0, [1, 3, 5, 7]] / 2000
    assert np.all(np.abs(share - 0.25) < 0.04), share
    assert np.all(np.abs(chosen[1, [0, 2]] / 2000 - 0.5) < 0.05)


def test_two_tower_trains_and_scores_on_a_50k_item_catalogue():
    """Above ``max_softmax_items`` the sampled loss is used; the Keras graph's history
    inputs have no catalogue-sized dimension, and scoring a few users works."""
    data = big_catalogue()
    model = create_model(
        "two_tower",
        {
            "dim": 8,
            "epochs": 2,
            "batch_size": 16,
            "patience": 0,
            "ema": 0.0,
            "max_softmax_items": 10_000,
        },
    ).fit(data)
    inputs = {t.name: tuple(t.shape) for t in model._keras_model.inputs}
    assert inputs == {
        "history_items": (None, None),
        "history_weights": (None, None),
        "target": (None,),
    }
    assert model.fit_result.epochs == 2 and np.isfinite(model.fit_result.history[-1]["loss"])
    scores = model.score(data.matrix[:3])
    assert scores.shape == (3, 50_000) and np.isfinite(scores).all()


@pytest.mark.parametrize("mode", ["mean", "sqrt"])
def test_bag_pooling_by_sparse_product_gives_each_rows_weighted_sum(mode):
    from recsys_engine.models.history_bag import HistoryBag, pool_bag

    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0], [-2.0, 6.0]], np.float32)
    items, weights = padded_history(sp.csr_matrix(np.array([[1.0, 0, 3.0, 0], [0, 2.0, 0, 1.0]])))
    product = np.asarray(pool_bag(HistoryBag.of(items, weights), vectors, mode))
    # by hand: row 0 sums 1·(1,0) + 3·(4,4) = (13, 12) over Σw = 4 or √10;
    # row 1 sums 2·(0,2) + 1·(−2,6) = (−2, 10) over Σw = 3 or √5
    totals = (4.0, 3.0) if mode == "mean" else (np.sqrt(10.0), np.sqrt(5.0))
    expected = np.array([[13.0, 12.0], [-2.0, 10.0]]) / np.array(totals)[:, None]
    np.testing.assert_allclose(product, expected, rtol=1e-6)


def test_bag_contains_looks_each_column_up_in_each_rows_history():
    from recsys_engine.models.history_bag import HistoryBag

    history = sp.csr_matrix(np.array([[0, 1, 0, 0, 1], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]]))
    items, weights = padded_history(history.astype(np.float32))
    bag = HistoryBag.of(items, weights)
    # columns repeat (4 twice) and include an item nobody has (3)
    out = np.asarray(bag.contains(np.array([4, 3, 1, 4, 0])))
    assert out.tolist() == [
        [True, False, True, True, False],
        [True, False, False, True, False],
        [False, False, False, False, True],
    ]


def test_content_rows_of_the_named_items_equal_the_catalogues_and_keep_dense_gradients(
    monkeypatch,
):
    """The sampled losses read the content part of the named items only: equal (bit for
    bit) to the same rows of the whole-catalogue product, an item without features gives
    a zero row, and the gradient of the (features × dim) content tables stays a dense
    tensor, so Adam updates them as before."""
    tf = pytest.importorskip("tensorflow")
    from recsys_engine.models.keras_layers import PooledTowers

    features = sp.csr_matrix(
        np.array(
            [[1, 0, 2, 0], [0, 0, 0, 0], [0, 3, 0, 1], [1, 1, 1, 1], [0, 0, 5, 0]], np.float32
        )
    )
    layer = PooledTowers(
        5, id_dim=2, content_dim=3, n_features=4, content_nnz=features.nnz,
        mode="sampled_softmax", item_bias=True, seed=0,
    )  # fmt: skip
    layer.build(None)
    rng = np.random.default_rng(2)
    layer.content_bias.assign(rng.normal(size=4).astype(np.float32))
    layer.set_catalogue(features, np.ones(5, np.float32), np.zeros(5, np.float32))
    items_in = tf.constant([3, 1, 1, 0], tf.int32)
    items_out = tf.constant([4, 2], tf.int32)
    with tf.GradientTape() as tape:
        v_in, v_out, bias = layer.item_rows(items_in, items_out)
        loss = tf.reduce_sum(v_in) + tf.reduce_sum(v_out * 2.0) + tf.reduce_sum(bias)
    all_in, all_out, all_bias = layer.catalogue()
    np.testing.assert_array_equal(np.asarray(v_in), np.asarray(all_in)[[3, 1, 1, 0]])
    np.testing.assert_array_equal(np.asarray(v_out), np.asarray(all_out)[[4, 2]])
    np.testing.assert_array_equal(np.asarray(bias), np.asarray(all_bias)[[4, 2]])
    assert not np.asarray(v_in)[1, 2:].any()  # item 1 has no features: content part 0
    grads = tape.gradient(loss, [layer.content_in, layer.content_out, layer.content_bias])
    assert not any(isinstance(g, tf.IndexedSlices) for g in grads)
    # d/d content_in = column sums of the named rows' features: (2, 1, 3, 1) per unit
    np.testing.assert_allclose(np.asarray(grads[0])[:, 0], [2, 1, 3, 1])
    # the scoring arrays, computed two items at a time, are the catalogue's too
    from recsys_engine.models import keras_layers

    monkeypatch.setattr(keras_layers, "CATALOGUE_ROWS", 2)
    blocks = keras_layers.catalogue_arrays(layer)
    np.testing.assert_array_equal(blocks["v_in"], np.asarray(all_in))
    np.testing.assert_array_equal(blocks["v_out"], np.asarray(all_out))
    np.testing.assert_array_equal(blocks["bias"], np.asarray(all_bias))


def test_the_target_draw_keeps_each_rows_first_target_in_a_random_order():
    """``_first_in_order`` is ``np.unique(groups[order], return_index=True)`` read as
    positions, without the sort: per group, its position that ``order`` lists first."""
    from recsys_engine.models.pooled_examples import _first_in_order

    # by hand: groups 0 0 1 1 1 2; order lists position 4 (group 1), 1 (group 0), 5, …
    groups = np.array([0, 0, 1, 1, 1, 2])
    order = np.array([4, 1, 5, 0, 3, 2])
    assert _first_in_order(groups, order).tolist() == [1, 4, 5]
    rng = np.random.default_rng(0)
    groups = np.sort(rng.integers(0, 300, 5000))
    groups = np.unique(groups, return_inverse=True)[1]  # labels 0, 1, … each present
    for _ in range(3):
        order = rng.permutation(len(groups))
        _, first = np.unique(groups[order], return_index=True)
        np.testing.assert_array_equal(_first_in_order(groups, order), order[first])


def test_the_input_draw_in_chunks_is_the_whole_draw(monkeypatch):
    """``uniform_below`` draws a few values at a time (here 7) but gives exactly
    ``rng.random(n) < fraction`` and leaves the generator where that whole draw would."""
    from recsys_engine.models import pooled_examples

    monkeypatch.setattr(pooled_examples, "DRAW_CHUNK", 7)
    for n in (0, 5, 7, 30):
        ours, theirs = np.random.default_rng(3), np.random.default_rng(3)
        got = pooled_examples.uniform_below(ours, n, 0.4)
        np.testing.assert_array_equal(got, theirs.random(n) < 0.4)
        assert got.dtype == bool and ours.random() == theirs.random()


def test_the_source_reads_a_ready_history_without_changing_it():
    """A history whose rows all have two items and sorted indices is read as it is (no
    copy); one with a short row or unsorted indices is copied, the short row dropped and
    the indices sorted — the caller's matrix is left as it was either way."""
    ready = sp.csr_matrix(
        (np.ones(5, np.float32), [1, 3, 0, 2, 4], [0, 2, 5]), shape=(2, 6)
    )
    assert HalfSplitSource(ready, "softmax", 0.5).x is ready
    unsorted = sp.csr_matrix(
        (np.arange(1, 6, dtype=np.float32), [3, 1, 4, 0, 2], [0, 2, 5]), shape=(2, 6)
    )
    unsorted.has_sorted_indices = False
    source = HalfSplitSource(unsorted, "softmax", 0.5)
    assert source.x is not unsorted and unsorted.indices.tolist() == [3, 1, 4, 0, 2]
    assert source.x.indices.tolist() == [1, 3, 0, 2, 4]
    assert source.x.data.tolist() == [2, 1, 4, 5, 3]
    short = sp.csr_matrix((np.ones(3, np.float32), [1, 0, 2], [0, 1, 3]), shape=(2, 6))
    assert HalfSplitSource(short, "softmax", 0.5).x.shape == (1, 6)
    assert source.rows.dtype == np.int32 and source.rows.tolist() == [0, 0, 1, 1, 1]
