"""Explanations of the deep sequence models on the Explain page's path: the "because"
reason is *verified by re-scoring* (each part is the score change when that history item
is removed, the rest keeping their order), shows recency, and the counterfactual works.

Data: the 3-user ordered log of ``test_explain_ordered`` (u0 a→b→c, u1 a→b→d, u2 b→c→a).
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys_engine.explain import Explainer
from recsys_engine.explain.ordered import InOrder
from recsys_engine.explain.results import RESCORED
from recsys_engine.models import create_model
from tests.explain.test_explain_ordered import ordered_split

CONFIG = {"epochs": 3, "patience": 0, "dim": 8, "max_len": 4, "blocks": 1}


@pytest.mark.parametrize("name", ["sasrec", "gru4rec"])
def test_because_reason_is_verified_by_rescoring_with_recency(name: str) -> None:
    data = ordered_split()
    model = create_model(name, CONFIG).fit(data.train)
    explainer = Explainer(model, data)
    (item,) = explainer.recommend_user("u0", k=1).items
    reason = next(r for r in item.reasons if r.kind == "history")
    assert reason.fidelity == RESCORED and reason.check["rescored"]
    # u0 ran a → b → c: c is the most recent (1), a the oldest (3)
    assert {row["item_id"]: row["recency"] for row in reason.rows} == {"c": 1, "b": 2, "a": 3}
    # the sentence gives each raising item's contribution with the table's sign (+)
    for row in reason.rows[:3]:
        if row["contribution"] > 0:
            assert f"{row['title']} (+{row['contribution']:.3g})" in reason.summary
    assert "(−" not in reason.summary
    view = InOrder(model, data.train.recency()[0])
    history = data.train.matrix[0]
    target = int(np.flatnonzero(data.train.item_ids == item.item_id)[0])
    full = float(view.score(history, np.array([target]))[0, 0])
    for row in reason.rows:
        j = int(np.flatnonzero(data.train.item_ids == row["item_id"])[0])
        without = history.copy()
        without[0, j] = 0
        without.eliminate_zeros()
        change = full - float(view.score(without, np.array([target]))[0, 0])
        assert row["contribution"] == pytest.approx(change, abs=1e-5)
    kinds = {r.kind for r in item.reasons}
    assert "counterfactual" in kinds
    counterfactual = next(r for r in item.reasons if r.kind == "counterfactual")
    assert counterfactual.fidelity == RESCORED
