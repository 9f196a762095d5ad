"""The deep sequence models ``sasrec`` and ``gru4rec``: causality, sequence building,
persistence, re-scoring explanations and the refusal of splits without time order.

Hand-checked sequence values (``sequences``): a history of items 2, 5, 7, 9 with recency
ranks 7 → 1 (most recent), 2 → 2, 9 → 3, 5 → 4 runs oldest first 5, 9, 2, 7, stored as
item + 1: 6, 10, 3, 8.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models import create_model
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import TrainData
from recsys_engine.models.rescoring import RescoredExplanation
from recsys_engine.models.sequence import sequences, training_windows

N_ITEMS = 12
SMALL = {"epochs": 2, "patience": 0, "dim": 8, "max_len": 6, "blocks": 1, "dropout": 0.0}


def walks() -> TrainData:
    """Twenty users walking i → i+1 over 12 items, 5–8 steps each, timestamps = step."""
    rng = np.random.default_rng(0)
    users, items, times = [], [], []
    for u in range(20):
        start = int(rng.integers(N_ITEMS))
        for t in range(int(rng.integers(5, 9))):
            users.append(f"u{u:02d}")
            items.append(f"i{(start + t) % N_ITEMS:02d}")
            times.append(float(t))
    ids = [f"i{i:02d}" for i in range(N_ITEMS)]
    return TrainData.from_interactions(users, items, item_ids=ids, timestamps=times)


@pytest.fixture(scope="module", params=["sasrec", "gru4rec"])
def model(request: pytest.FixtureRequest) -> Recommender:
    return create_model(request.param, SMALL).fit(walks())


def row(items: list[int], ranks: list[int] | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """A one-row history of ``items`` and its recency (given ranks, or by list order:
    the last item is the most recent)."""
    ranks = ranks or list(range(len(items), 0, -1))
    cols = np.array(items)
    h = sp.csr_matrix((np.ones(len(items), np.float32), ([0] * len(items), cols)), (1, N_ITEMS))
    r = sp.csr_matrix((np.array(ranks, np.float32), ([0] * len(items), cols)), (1, N_ITEMS))
    return h, r


# -- sequence building ---------------------------------------------------------------------
def test_sequences_order_by_recency_truncate_and_left_pad() -> None:
    h, r = row([2, 5, 7, 9], [2, 4, 1, 3])
    np.testing.assert_array_equal(sequences(h, r, 6), [[0, 0, 6, 10, 3, 8]])
    np.testing.assert_array_equal(sequences(h, r, 3), [[10, 3, 8]])  # the last three
    np.testing.assert_array_equal(sequences(h, None, 5), [[0, 3, 6, 8, 10]])  # index order
    empty = sp.csr_matrix((1, N_ITEMS), dtype=np.float32)
    np.testing.assert_array_equal(sequences(empty, None, 3), [[0, 0, 0]])


def test_training_windows_cover_every_target_once() -> None:
    # runs (items): user 0: 0 1 2 3 4, user 1: 5 6 7 8; stored as item + 1
    x, y = training_windows(np.array([0, 5, 9]), np.array([0, 1, 2, 3, 4, 5, 6, 7, 8]), 2)
    np.testing.assert_array_equal(x, [[3, 4], [1, 2], [7, 8], [0, 6]])
    np.testing.assert_array_equal(y, [[4, 5], [2, 3], [8, 9], [0, 7]])


# -- the network ---------------------------------------------------------------------------
def test_causal_no_position_sees_a_later_item(model: Recommender) -> None:
    import tensorflow as tf

    net = model._network
    a = np.array([[0, 0, 3, 5, 7, 9]], dtype=np.int32)
    b = a.copy()
    b[0, 4] = 12  # change the item at position 4 only
    ha = np.asarray(net.hidden(tf.constant(a)))
    hb = np.asarray(net.hidden(tf.constant(b)))
    np.testing.assert_allclose(ha[0, :4], hb[0, :4], atol=1e-6)  # earlier positions unchanged
    assert not np.allclose(ha[0, 4:], hb[0, 4:])  # later ones see it


def test_padding_is_not_read(model: Recommender) -> None:
    """The same run, left-padded or not, gives the same predicting vector (the last
    position is the most recent real item; padding neither enters the state nor moves it)."""
    import tensorflow as tf

    net = model._network
    padded = net.last(tf.constant([[0, 0, 0, 4, 2, 9]], dtype=tf.int32))
    unpadded = net.last(tf.constant([[4, 2, 9]], dtype=tf.int32))
    np.testing.assert_allclose(np.asarray(padded), np.asarray(unpadded), atol=1e-6)


def test_the_predicting_vector_is_layer_normalised() -> None:
    """Both encoders end with a layer norm, so the predicting vector is not capped by the
    GRU's tanh. Hand check: with its initial gain 1 and offset 0 a layer-normalised row
    x of d coordinates has Σ x = 0 and Σ x² = d·var/(var + 1e-6) ≈ d, i.e. norm √d = 4
    for d = 16 (a fresh GRU's state is small, var ≈ 1e-4, so the 1e-6 takes off up to
    ~1%), where a raw GRU state's coordinates all lie in (−1, 1)."""
    import tensorflow as tf

    from recsys_engine.models.sequence_layers import SequenceNetwork

    seq = tf.constant([[0, 1, 5, 3], [2, 7, 7, 8]], dtype=tf.int32)
    for encoder in ("gru", "attention"):
        net = SequenceNetwork(N_ITEMS, dim=16, max_len=4, encoder=encoder, output_norm=True)
        net.build(None)
        last = np.asarray(net.last(seq), dtype=np.float64)
        np.testing.assert_allclose(last.sum(axis=1), 0.0, atol=1e-4)
        np.testing.assert_allclose(np.linalg.norm(last, axis=1), 4.0, rtol=0.01)
        assert np.abs(last).max() > 1.0


@pytest.mark.parametrize("name", ["sasrec", "gru4rec"])
def test_the_models_build_their_network_with_the_output_norm(name: str) -> None:
    m = create_model(name, {**SMALL, "epochs": 1}).fit(walks())
    assert m._network.get_config()["output_norm"] is True


def test_a_gru_network_saved_before_the_output_norm_loads_without_it() -> None:
    """``.keras`` files saved before 2026-12-05 have no ``output_norm`` in the layer's
    config: they load as they were trained, the GRU state scored as it is (in (−1, 1))."""
    import tensorflow as tf

    from recsys_engine.models.sequence_layers import SequenceNetwork

    config = SequenceNetwork(N_ITEMS, dim=16, max_len=4, encoder="gru").get_config()
    config.pop("output_norm")
    old = SequenceNetwork.from_config(config)
    old.build(None)
    assert not old.output_norm and not hasattr(old, "final_norm")
    last = np.asarray(old.last(tf.constant([[0, 1, 5, 3]], dtype=tf.int32)))
    assert np.abs(last).max() < 1.0


def test_items_older_than_max_len_do_not_change_the_score(model: Recommender) -> None:
    recent = [1, 2, 3, 4, 5, 6]  # max_len = 6: exactly the kept window
    h1, r1 = row([0, *recent])
    h2, r2 = row([11, *recent])
    h3, r3 = row(recent[1:])  # one item fewer: a padded position
    s1 = model.score_in_order(h1, r1)
    np.testing.assert_allclose(s1, model.score_in_order(h2, r2), atol=1e-6)
    assert not np.allclose(s1, model.score_in_order(h3, r3))


def test_order_matters(model: Recommender) -> None:
    h, forward = row([1, 2, 3, 4])
    _, backward = row([1, 2, 3, 4], [4, 3, 2, 1][::-1])
    assert not np.allclose(model.score_in_order(h, forward), model.score_in_order(h, backward))


def test_save_load_gives_identical_scores(model: Recommender, tmp_path) -> None:
    h, r = row([3, 4, 5])
    before = model.score_in_order(h, r)
    loaded = Recommender.load(model.save(tmp_path / model.name))
    assert type(loaded) is type(model) and (tmp_path / model.name / "model.keras").exists()
    np.testing.assert_array_equal(loaded.score_in_order(h, r), before)


# -- explanations --------------------------------------------------------------------------
def test_each_contribution_is_the_score_change_without_that_item(model: Recommender) -> None:
    items, ranks = [1, 4, 6, 7], [4, 1, 3, 2]
    h, r = row(items, ranks)
    item = 8
    e = model.explain_in_order(h, r, item)
    full = float(model.score_in_order(h, r, np.array([item]))[0, 0])
    assert e.score == pytest.approx(full, abs=1e-5) and not e.exact
    assert isinstance(e, RescoredExplanation)
    assert list(e.history_items) == items
    np.testing.assert_array_equal(e.recency, ranks)
    for j in range(len(items)):
        rest = [k for k in range(len(items)) if k != j]
        hj, rj = row([items[k] for k in rest], [ranks[k] for k in rest])
        without = float(model.score_in_order(hj, rj, np.array([item]))[0, 0])
        assert e.contributions[j] == pytest.approx(full - without, abs=1e-5)
    empty = sp.csr_matrix((1, N_ITEMS), dtype=np.float32)
    assert e.base == pytest.approx(float(model.score(empty, np.array([item]))[0, 0]), abs=1e-6)


# -- refusals ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sasrec", "gru4rec"])
def test_refuses_a_random_split_before_training(name: str) -> None:
    data = walks()
    data.split_strategy = "random"
    with pytest.raises(ConfigError, match="does not keep time order"):
        create_model(name, SMALL).fit(data)
    data.split_strategy = "cold-items"
    with pytest.raises(ConfigError, match="cold-items"):
        create_model(name, SMALL).fit(data)


def test_refuses_data_without_order_and_bad_settings() -> None:
    data = TrainData.from_interactions(["u", "u"], ["x", "y"])
    with pytest.raises(ConfigError, match="no timestamps"):
        create_model("sasrec", SMALL).fit(data)
    with pytest.raises(ConfigError, match="heads"):
        create_model("sasrec", {"heads": 0})
    with pytest.raises(ConfigError, match="max_len"):
        create_model("gru4rec", {"max_len": 0})


def test_learns_a_planted_walk() -> None:
    """After 40 epochs on the i → i+1 walks, the next item is ranked first."""
    config = {**SMALL, "epochs": 40, "dim": 16, "learning_rate": 1e-2}
    m = create_model("sasrec", config).fit(walks())
    h, r = row([3, 4, 5])
    assert int(np.argmax(m.score_in_order(h, r))) == 6
