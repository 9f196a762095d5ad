"""Explanations of an order-aware model (``transitions``) on the Explain page's path.

The 3-user log of ``tests/models/test_transitions.py`` (items a=0, b=1, c=2, d=3, plus e=4
that nobody has): u0 a→b→c, u1 a→b→d, u2 b→c→a, with test items u0: d, u1: e, u2: e.
Successors, normalised per source: P[a,b] = 1, P[b,c] = 2/3, P[b,d] = 1/3, P[c,a] = 1.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.evaluation import EvalOptions, evaluate
from recsys_engine.explain import EXACT, Explainer
from recsys_engine.explain.ordered import InOrder
from recsys_engine.models import create_model
from recsys_engine.models.data import TrainData
from recsys_engine.split_data import SplitData


def ordered_split() -> SplitData:
    users = ["u0", "u0", "u0", "u1", "u1", "u1", "u2", "u2", "u2"]
    items = ["a", "b", "c", "a", "b", "d", "b", "c", "a"]
    times = [1, 2, 3, 1, 2, 3, 1, 2, 3]
    ids = ["a", "b", "c", "d", "e"]
    train = TrainData.from_interactions(users, items, item_ids=ids, timestamps=times)
    train.split_strategy = "leave-last"
    test = sp.csr_matrix((np.ones(3, dtype=np.float32), ([0, 1, 2], [3, 4, 4])), shape=(3, 5))
    return SplitData(train=train, seen=train.matrix.copy(), test=test)


@pytest.fixture
def explainer() -> Explainer:
    data = ordered_split()
    return Explainer(create_model("transitions", {"n_last": 2}).fit(data.train), data)


def test_in_order_reranks_what_is_left_of_the_history() -> None:
    data = ordered_split()
    view = InOrder(create_model("transitions").fit(data.train), data.train.recency()[0])
    # u0: c most recent (1), b (2), a (3); dropping b leaves c = 1, a = 2
    full = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [1, 0, 1, 0, 0]], dtype=np.float32))
    np.testing.assert_array_equal(view.recency(full).toarray(), [[3, 2, 1, 0, 0], [2, 0, 1, 0, 0]])


def test_stored_user_is_ranked_as_evaluation_ranks_them(explainer: Explainer) -> None:
    data = ordered_split()
    result = evaluate(explainer.model, data, EvalOptions(ks=(3,)))
    for row, user in enumerate(result.user_ids):
        recs = explainer.recommend_user(str(user), k=2, explain=False)
        listed = [item.item_id for item in recs.items]
        expected = data.train.item_ids[result.top_items[row, :2]]
        assert listed == [str(i) for i in expected]
        got = [item.score for item in recs.items]
        np.testing.assert_allclose(got, result.top_scores[row, :2], rtol=1e-6)


def test_because_you_just_interacted_with_has_exact_parts(explainer: Explainer) -> None:
    # u0 with n_last = 2: a scores 1 (c's successor, weight 1), d scores ½ · ⅓ = 1/6 (b's)
    recs = explainer.recommend_user("u0", k=1)
    (item,) = recs.items
    assert item.item_id == "d" and item.score == pytest.approx(1 / 6, rel=1e-6)
    reason = next(r for r in item.reasons if r.kind == "history")
    assert reason.fidelity == EXACT
    assert reason.summary.startswith("Because you just interacted with")
    # a is older than the last two and c is never followed by d: only b is listed
    parts = {row["item_id"]: row["contribution"] for row in reason.rows}
    assert parts == pytest.approx({"b": 1 / 6}, abs=1e-7)
    assert "came next after it " in reason.summary  # one item: "it", not "them"
    assert reason.check["residual"] < 1e-6
