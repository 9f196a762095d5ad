"""The sampled losses' L2 penalty on the ID rows a step reads, weighted by 1 / (the chance
a step reads the row), so a step's expected penalty is the full-table one (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.models.pooled_examples import penalty_scale, row_read_chances


def _counted_by_batches(source, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the examples of the source's current epoch that read its input row (it
    is in the batch's history with a positive weight) and its output row (the target, or
    a BPR negative other than the target), counted from the batches the model trains on."""
    c_in, c_out = np.zeros(n_items), np.zeros(n_items)
    n = len(source.target) if hasattr(source, "target") else len(source.ev_items)
    for start in range(0, n, 2):
        x, _ = source.batch(np.arange(start, min(n, start + 2)))
        c_in += np.bincount(x["history_items"][x["history_weights"] > 0], minlength=n_items)
        named = [x["target"]]
        if "negative" in x:
            named.append(x["negative"][x["negative"] != x["target"]])
        c_out += np.bincount(np.concatenate(named), minlength=n_items)
    return c_in, c_out


class _Fixed:
    """A source whose one epoch is three examples with known inputs and targets."""

    def __init__(self, negative: bool = False):
        self.negative = negative
        self.target = np.array([3, 0, 3], np.int32)
        self.n_examples = 0

    def new_epoch(self, rng: np.random.Generator) -> int:
        self.n_examples = 3
        return 3

    def batch(self, index: np.ndarray):
        items = np.array([[0, 2, 0], [1, 2, 4], [3, 0, 0]], np.int32)[index]
        weights = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 0]], np.float32)[index]
        x = {"history_items": items, "history_weights": weights}
        x["target"] = self.target[index]
        if self.negative:
            x["negative"] = np.array([4, 0, 1], np.int32)[index]  # row 1's is its target
        return x, np.zeros(len(index), np.int32)

    def item_reads(self, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        return _counted_by_batches(self, n_items)


def test_read_chances_count_the_examples_that_name_each_row():
    """Inputs: item 0 in 1 of 3 examples (row 2's 0 is padding), 1 in 1, 2 in 2, 3 in 1,
    4 in 1; targets: 3 twice, 0 once. With B = 2: p = 1 − (1 − c/3)²."""
    source = _Fixed()
    source.new_epoch(np.random.default_rng(0))
    p_in, p_out = row_read_chances(source, 6, 2)
    one, two = 1 - (2 / 3) ** 2, 1 - (1 / 3) ** 2  # 5/9 and 8/9
    np.testing.assert_allclose(p_in, [one, one, two, one, one, 0])
    np.testing.assert_allclose(p_out, [one, 0, 0, two, 0, 0])


def test_bpr_negatives_count_as_output_reads_once_per_example():
    source = _Fixed(negative=True)
    source.new_epoch(np.random.default_rng(0))
    _, p_out = row_read_chances(source, 6, 1)
    # targets 3, 0, 3 and negatives 4, (0 = its own target: not counted twice), 1
    np.testing.assert_allclose(p_out, [1 / 3, 1 / 3, 0, 2 / 3, 1 / 3, 0])


def test_read_chances_need_a_drawn_epoch():
    with pytest.raises(ValueError, match="drawn epoch"):
        row_read_chances(_Fixed(), 6, 2)


def test_penalty_scale_is_one_over_the_chance_and_zero_for_rows_never_read():
    np.testing.assert_allclose(penalty_scale(np.array([0.5, 0.25, 0.0, 1.0])), [2, 4, 0, 1])


def test_the_scaled_penalty_of_a_step_is_l2_times_the_weighted_squares_of_the_rows_read():
    """One sampled-softmax step over two histories: the layer's loss is
    l2 · (Σ_in s_in,i ‖id_in_i‖² + Σ_out s_out,j ‖id_out_j‖²) over the distinct rows read."""
    pytest.importorskip("tensorflow")
    from recsys_engine.models.keras_layers import PooledTowers

    layer = PooledTowers(4, id_dim=2, mode="sampled_softmax", l2=0.1, read_scaled_l2=True)
    layer.build(None)
    id_in = np.array([[1, 0], [0, 2], [1, 1], [3, 0]], np.float32)
    id_out = np.array([[0, 1], [1, 1], [2, 0], [0, 0]], np.float32)
    layer.id_in.assign(id_in)
    layer.id_out.assign(id_out)
    scale = np.array([[2, 1], [4, 3], [1, 5], [8, 7]], np.float32)  # input, output weights
    layer.set_catalogue(None, np.ones(4, np.float32), np.zeros(4, np.float32), scale)
    x = {
        "history_items": np.array([[0, 1], [1, 0]], np.int32),  # rows read: 0, 1
        "history_weights": np.array([[1, 1], [1, 0]], np.float32),
        "target": np.array([2, 2], np.int32),  # output row read: 2
    }
    layer(x, training=True)
    # inputs: 2·1 + 4·4 = 18; outputs: 5·4 = 20; l2 · 38 = 3.8
    np.testing.assert_allclose(float(sum(layer.losses)), 3.8, rtol=1e-6)


def test_towers_saved_before_the_scaled_penalty_keep_the_plain_one():
    """A layer config without ``read_scaled_l2`` (files saved before) builds no weights
    for it and penalises the rows read with weight 1."""
    pytest.importorskip("tensorflow")
    from recsys_engine.models.keras_layers import PooledTowers

    config = PooledTowers(3, id_dim=2, mode="sampled_softmax", l2=0.5).get_config()
    config.pop("read_scaled_l2")
    layer = PooledTowers.from_config(config)
    layer.build(None)
    assert not hasattr(layer, "read_scale")
    layer.id_in.assign(np.array([[1, 1], [0, 0], [2, 0]], np.float32))
    layer.id_out.assign(np.array([[0, 0], [1, 0], [0, 0]], np.float32))
    x = {
        "history_items": np.array([[0, 2]], np.int32),
        "history_weights": np.array([[1, 1]], np.float32),
        "target": np.array([1], np.int32),
    }
    layer(x, training=True)
    # 0.5 · (2 + 4 + 1) = 3.5
    np.testing.assert_allclose(float(sum(layer.losses)), 3.5, rtol=1e-6)


def _sampled_two_tower():
    """A two-tower with the sampled softmax fitted for 2 epochs (batches of 16) on a random
    40 users × 30 items log; returns the log and the model."""
    pytest.importorskip("tensorflow")
    from recsys_engine.models import create_model
    from recsys_engine.models.data import TrainData

    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((40, 30)) < 0.2).astype(np.float32))
    train = TrainData(x, [f"u{i}" for i in range(40)], [f"i{j}" for j in range(30)])
    model = create_model(
        "two_tower", {"loss": "sampled_softmax", "epochs": 2, "dim": 8, "batch_size": 16}
    ).fit(train)
    return x, model


def test_two_tower_trains_with_the_scaled_penalty_on_the_sampled_loss():
    x, m = _sampled_two_tower()
    net = m._keras_model.get_layer("towers")
    scale = np.asarray(net.read_scale)
    popular = np.argmax(np.diff(x.tocsc().indptr))
    assert scale.shape == (30, 2) and (scale[popular] >= 1).all()
    assert scale[popular, 0] <= np.median(scale[:, 0])  # the most read row weighs least


@pytest.mark.parametrize("mode", ["sampled_softmax", "bpr"])
def test_the_sources_count_the_reads_their_batches_make(mode):
    """``item_reads`` of both example sources (per user, and per event with context)
    equals counting the epoch's batches, the definition ``row_read_chances`` needs."""
    from recsys_engine.models.event_context import ContextVocab, EventContext
    from recsys_engine.models.pooled_context import ContextEventSource
    from recsys_engine.models.pooled_examples import HalfSplitSource

    rng = np.random.default_rng(3)
    x = sp.random(12, 9, density=0.45, format="csr", random_state=4, dtype=np.float32)
    x.data[:] = rng.integers(1, 4, x.nnz)
    x.sort_indices()
    users, items = x.nonzero()
    vocab = ContextVocab(("device",), (("a", "b"),))
    context = EventContext.build(vocab, users, items, rng.integers(0, 3, len(users)))
    for source in (
        HalfSplitSource(x, mode, 0.5),
        ContextEventSource(x, mode, 0.5, context),
    ):
        for seed in range(3):
            source.new_epoch(np.random.default_rng(seed))
            expected = _counted_by_batches(source, 9)
            got = source.item_reads(9)
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])


def test_the_penalty_weights_come_from_the_first_epochs_draw(monkeypatch):
    """The two-tower draws one set of examples per epoch and no more: the read chances
    are counted on the first epoch's draw, which fit_keras makes before the model is
    built (a separate draw cost ~1–2 s at MovieLens-20M size, issue 14)."""
    from recsys_engine.models.pooled_examples import HalfSplitSource

    draws = []
    original = HalfSplitSource.new_epoch

    def counted(self, rng):
        n = original(self, rng)
        draws.append(np.stack([penalty_scale(p) for p in row_read_chances(self, 30, 16)], 1))
        return n

    monkeypatch.setattr(HalfSplitSource, "new_epoch", counted)
    x, m = _sampled_two_tower()
    assert len(draws) == 2  # one per epoch
    scale = np.asarray(m._keras_model.get_layer("towers").read_scale)
    np.testing.assert_allclose(scale, draws[0], rtol=1e-6)
    assert not np.allclose(draws[0], draws[1])  # the second epoch's would differ
