"""Ordered histories and the ``transitions`` model, with values checked by hand.

The toy log (items a=0, b=1, c=2, d=3; times in brackets):

    u0: a(1) b(2) c(3)      u1: a(1) b(2) d(3)      u2: b(1) c(2) a(3)

Successor pairs: a→b twice, b→c twice, b→d once, c→a once. Normalised per source item:
P[a,b] = 1, P[b,c] = 2/3, P[b,d] = 1/3, P[c,a] = 1; d is never followed.
For u0 (c most recent, then b, then a) with 1/r weights and n_last = 5:
score(j) = 1·P[c,j] + ½·P[b,j] + ⅓·P[a,j] → a: 1, b: ⅓, c: ⅓, d: ⅙.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models import create_model
from recsys_engine.models.data import TrainData, ordered_histories, recency_matrix
from recsys_engine.models.transitions import Transitions, successor_matrix

A, B, C, D = 0, 1, 2, 3


def toy() -> TrainData:
    """The three-user log of the module docstring, given out of time order."""
    users = ["u2", "u0", "u1", "u0", "u2", "u1", "u0", "u2", "u1"]
    items = ["a", "c", "d", "a", "c", "b", "b", "b", "a"]
    times = [3, 3, 3, 1, 2, 2, 2, 1, 1]
    return TrainData.from_interactions(users, items, timestamps=times)


def fitted(**config) -> Transitions:
    return create_model("transitions", config).fit(toy())


# -- ordered histories ---------------------------------------------------------------------
def test_ordered_histories_follow_time_per_user() -> None:
    data = toy()
    assert data.has_order and data.order_problem() is None
    runs = [
        list(data.sequence_items[data.sequence_indptr[u] : data.sequence_indptr[u + 1]])
        for u in range(3)
    ]
    assert runs == [[A, B, C], [A, B, D], [B, C, A]]


def test_ties_are_broken_by_item_index_and_empty_users_have_empty_runs() -> None:
    # user 0: items 5, 2, 7 at the same time, then item 1; user 1 has nothing; user 2: 4
    indptr, items = ordered_histories([0, 2, 0, 0, 0], [5, 4, 2, 7, 1], [9, 1, 9, 9, 10], 3)
    assert list(indptr) == [0, 4, 4, 5]
    assert list(items) == [2, 5, 7, 1, 4]


def test_missing_timestamps_make_the_order_unknown() -> None:
    assert ordered_histories([0, 0], [1, 2], [1.0, np.nan], 1) == (None, None)
    data = TrainData.from_interactions(["u", "u"], ["x", "y"])
    assert not data.has_order
    assert "no timestamps" in data.order_problem()
    with pytest.raises(ConfigError, match="no timestamps"):
        data.recency()


def test_ordered_histories_refuse_arrays_of_different_lengths() -> None:
    with pytest.raises(ConfigError, match="same length"):
        ordered_histories([0, 0], [1, 2], [1.0], 1)


def test_recency_ranks_distinct_items_by_their_last_time() -> None:
    # user 0 in time order: 1, 2, 3, 1 → last times: 2 (pos 1), 3 (pos 2), 1 (pos 3)
    indptr, items = ordered_histories([0, 0, 0, 0, 1, 1], [3, 1, 2, 1, 0, 1], [5, 1, 4, 9, 2, 1], 2)
    ranks = recency_matrix(indptr, items, 4).toarray()
    np.testing.assert_array_equal(ranks, [[0, 1, 3, 2], [1, 2, 0, 0]])


# -- the model -----------------------------------------------------------------------------
def test_successor_counts_are_normalised_per_source_item() -> None:
    data = toy()
    p = successor_matrix(data.sequence_indptr, data.sequence_items, 4).toarray()
    expected = np.zeros((4, 4))
    expected[A, B], expected[B, C], expected[B, D], expected[C, A] = 1, 2 / 3, 1 / 3, 1
    np.testing.assert_allclose(p, expected, rtol=1e-6)


def test_repeats_do_not_count_and_runs_do_not_cross_users() -> None:
    # user 0: 1, 1, 2; user 1: 0 — no 1→1, and no 2→0 across the two users
    p = successor_matrix(np.array([0, 3, 4]), np.array([1, 1, 2, 0]), 3).toarray()
    expected = np.zeros((3, 3))
    expected[1, 2] = 1.0
    np.testing.assert_array_equal(p, expected)


def test_scores_of_the_last_items_with_recency_weights() -> None:
    data = toy()
    history, recency = data.matrix[:1], data.recency()[:1]
    got = fitted().score_in_order(history, recency)
    np.testing.assert_allclose(got, [[1, 1 / 3, 1 / 3, 1 / 6]], rtol=1e-6)
    # only the last two items vote: a's vote for b (⅓) is gone
    got = fitted(n_last=2).score_in_order(history, recency)
    np.testing.assert_allclose(got, [[1, 0, 1 / 3, 1 / 6]], rtol=1e-6)
    got = fitted(n_last=2, weighting="equal").score_in_order(history, recency)
    np.testing.assert_allclose(got, [[1, 0, 2 / 3, 1 / 3]], rtol=1e-6)
    # the last item alone (c) points at a only
    got = fitted(n_last=1).score_in_order(history, recency, np.array([D, A]))
    np.testing.assert_allclose(got, [[0, 1]], rtol=1e-6)


def test_without_order_every_history_item_votes_once() -> None:
    model = fitted()
    got = model.score(toy().matrix[:1])  # a, b, c with weight 1 each
    np.testing.assert_allclose(got, [[1, 1, 2 / 3, 1 / 3]], rtol=1e-6)


def test_explanation_parts_are_each_items_exact_share() -> None:
    data = toy()
    model = fitted()
    history, recency = data.matrix[:1], data.recency()[:1]
    e = model.explain_in_order(history, recency, D)
    assert e.exact and e.base == 0.0
    assert list(e.history_items) == [A, B, C]
    np.testing.assert_allclose(e.contributions, [0, 1 / 6, 0], atol=1e-7)
    e = model.explain_in_order(history, recency, B)
    np.testing.assert_allclose(e.contributions, [1 / 3, 0, 0], atol=1e-7)
    scores = model.score_in_order(history, recency)[0]
    for item in range(4):
        e = model.explain_in_order(history, recency, item)
        assert e.score == pytest.approx(float(scores[item]), rel=1e-6)
        assert e.base + e.contributions.sum() == pytest.approx(e.score, rel=1e-12)


def test_save_and_load_keep_the_successor_matrix(tmp_path) -> None:
    data = toy()
    model = fitted(n_last=2)
    loaded = Transitions.load(model.save(tmp_path / "m"))
    assert loaded.config == model.config
    np.testing.assert_array_equal(
        loaded.score_in_order(data.matrix, data.recency()),
        model.score_in_order(data.matrix, data.recency()),
    )


def test_recency_must_match_the_histories() -> None:
    data = toy()
    with pytest.raises(ConfigError, match="one row per history"):
        fitted().score_in_order(data.matrix[:2], data.recency()[:1])


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="n_last must be >= 1"):
        create_model("transitions", {"n_last": 0})
    with pytest.raises(ConfigError, match="weighting must be one of"):
        create_model("transitions", {"weighting": "linear"})


# -- refusing data without order -----------------------------------------------------------
@pytest.mark.parametrize("strategy", ["random", "cold-items"])
def test_fit_refuses_a_split_that_does_not_keep_time_order(strategy: str) -> None:
    data = toy()
    data.split_strategy = strategy
    with pytest.raises(ConfigError, match=f"split is '{strategy}', which does not keep time"):
        create_model("transitions").fit(data)


def test_fit_refuses_data_without_timestamps() -> None:
    data = TrainData.from_interactions(["u", "u"], ["x", "y"])
    with pytest.raises(ConfigError, match="'transitions' learns from the order.*no timestamps"):
        create_model("transitions").fit(data)


def test_other_models_ignore_the_order() -> None:
    data = toy()
    ease = create_model("ease").fit(data)
    np.testing.assert_array_equal(
        ease.score_in_order(data.matrix, data.recency()), ease.score(data.matrix)
    )
    assert not ease.needs_order and Transitions.needs_order
    assert isinstance(data.recency(), sp.csr_matrix)
