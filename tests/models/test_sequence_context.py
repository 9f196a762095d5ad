"""The context of the event to predict as an input of the sequence models (issue 18,
``use_context``): each training position gets its target's context, the neutral context
gives the context-blind score, numpy scoring matches the Keras network, a planted context
signal is learned, and the context survives save/load and reaches the Explain page.

Data (``groups_frame`` of ``test_context_model``): 80 users in 4 groups, 8 events each in
time order, device A or B at random; on A the user picks one of their group's items 0–19,
on B one of 20–39 — so only the next event's device says which half comes next.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys_engine.errors import ConfigError
from recsys_engine.explain import Explainer
from recsys_engine.explain.ordered import InOrder
from recsys_engine.models import create_model
from recsys_engine.models.base import Recommender
from recsys_engine.models.sequence_data import target_context
from tests.models.test_context_model import fitted_on_groups, tiny

SMALL = {
    "epochs": 30,
    "patience": 0,
    "batch_size": 16,
    "learning_rate": 1e-2,
    "dim": 16,
    "max_len": 8,
    "blocks": 1,
    "dropout": 0.0,
    "seed": 0,
}


def test_each_window_position_carries_its_targets_context() -> None:
    # runs of events 0-4 (user 0) and 5-8 (user 1); event e has code 10 + e. The windows
    # of max_len 2 (test_training_windows_cover_every_target_once) have the targets
    # 3 4 | 1 2 | 7 8 | pad 6, so their codes are:
    codes = (10 + np.arange(9, dtype=np.int32))[:, None]
    out = target_context(np.array([0, 5, 9]), codes, 2)
    assert out.shape == (4, 2, 1)
    np.testing.assert_array_equal(out[:, :, 0], [[13, 14], [11, 12], [17, 18], [0, 16]])


@pytest.fixture(scope="module")
def fitted():
    with fitted_on_groups("sasrec", SMALL) as pair:
        yield pair


def test_use_context_is_refused_without_context(store) -> None:
    data = tiny(store, context=())
    with pytest.raises(ConfigError, match="use_context is on, but this dataset has no context"):
        create_model("sasrec", {**SMALL, "epochs": 1, "use_context": True}).fit(data.train)


def test_context_changes_the_scores_and_neutral_is_the_blind_score(fitted) -> None:
    data, model = fitted
    assert model.uses_context and model.context_vocab.values == (("A", "B"),)
    h, r = data.inputs[:4], data.input_recency()[:4]
    a = model.score_in_context(h, r, np.array([[1]] * 4, np.int32))
    b = model.score_in_context(h, r, np.array([[2]] * 4, np.int32))
    neutral = model.score_in_context(h, r, np.zeros((4, 1), np.int32))
    np.testing.assert_allclose(neutral, model.score_in_order(h, r), atol=1e-6)
    assert np.abs(a - b).max() > 0.1
    # the context's part is ⟨E[c], v_j⟩, the same for every history
    e_a = model.context_vectors(np.array([[1]]))[0]
    items = np.asarray(model._network.outputs())
    np.testing.assert_allclose(a - neutral, np.tile(items @ e_a, (4, 1)), atol=1e-4)


def test_numpy_scoring_matches_the_keras_network(fitted) -> None:
    import tensorflow as tf

    data, model = fitted
    net = model._network
    seq = np.array([[0, 0, 0, 0, 1, 2, 3, 4]], dtype=np.int32)
    ctx = np.zeros((1, 8, 1), dtype=np.int32)
    ctx[0, -1, 0] = 2  # the event the last position predicts happens on device B
    keras_logits = np.asarray(net({"sequence": tf.constant(seq), "context": ctx}))[0, -1]
    mine = model._score_sequences(seq, codes=np.array([[2]], np.int32))[0]
    np.testing.assert_allclose(mine, keras_logits, rtol=1e-4, atol=1e-4)


def test_a_planted_context_signal_is_learned(fitted) -> None:
    data, model = fitted
    h, r = data.inputs, data.input_recency()
    n = h.shape[0]
    first_half = {}  # share of the top-5 lists from items 0–19, per context code
    for code in (0, 1, 2):  # neutral, A (items 0–19), B (items 20–39)
        scores = model.score_in_context(h, r, np.full((n, 1), code, np.int32))
        scores[h.nonzero()] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :5]
        first_half[code] = np.isin(data.train.item_ids[top], [f"i{i:02d}" for i in range(20)])
        first_half[code] = float(first_half[code].mean())
    # without the device nothing says which half comes next; with it, the right half
    assert 0.3 < first_half[0] < 0.7, first_half
    assert first_half[1] > 0.8 and first_half[2] < 0.2, first_half


def test_round_trip_keeps_the_context(fitted, tmp_path) -> None:
    data, model = fitted
    h, r = data.inputs[:5], data.input_recency()[:5]
    codes = np.array([[1], [2], [0], [1], [2]], dtype=np.int32)
    before = model.score_in_context(h, r, codes)
    loaded = Recommender.load(model.save(tmp_path / "m"))
    assert loaded.uses_context
    assert loaded.context_vocab == data.train.context.vocab
    np.testing.assert_allclose(loaded.score_in_context(h, r, codes), before, atol=1e-5)


def test_explain_shows_the_context_effect_verified_by_rescoring(fitted) -> None:
    data, model = fitted
    explainer = Explainer(model, data)
    user = str(data.train.user_ids[0])
    recs = explainer.recommend_user(user, k=5, context={"device": "B"})
    assert recs.context == {"device": "B"}
    view = InOrder(model, data.input_recency()[0])
    history, seen = data.inputs[0], data.seen[0].indices
    in_b = view.model.score_in_context(history, view.recency(history), np.array([[2]]))[0]
    neutral = view.score(history)[0]
    for item in recs.items:
        reason = next(r for r in item.reasons if r.kind == "context")
        assert reason.check["verified"] and reason.check["rescored"]
        j = int(np.flatnonzero(data.train.item_ids == item.item_id)[0])
        assert reason.check["contribution"] == pytest.approx(in_b[j] - neutral[j], abs=1e-4)
        assert item.score == pytest.approx(float(in_b[j]), abs=1e-4)
        rank0 = int((np.delete(neutral, seen) > neutral[j]).sum()) + 1
        assert reason.rows[1]["rank"] == rank0
    # what-if: the same history in context A lists other items than in context B
    items = data.train.item_ids[history.indices].tolist()
    in_a = explainer.recommend_history(items, k=5, context={"device": "A"})
    in_b_list = explainer.recommend_history(items, k=5, context={"device": "B"})
    assert [i.item_id for i in in_a.items] != [i.item_id for i in in_b_list.items]
