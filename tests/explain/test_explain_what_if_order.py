"""The What-if path of an order-aware model reads its history in the order given.

``Explainer.recommend_history(item_ids)`` takes ``item_ids`` as the time order (first =
oldest, last = most recent, a repeated item at its last place), as ``recommend_user`` does
for a stored user; so the user's own history, loaded oldest first
(``Explainer.history_in_order``), gives the user's own list.

Hand-checked values use the 3-user log of ``test_explain_ordered`` (P[a,b] = 1,
P[b,c] = 2/3, P[b,d] = 1/3, P[c,a] = 1) with ``transitions`` n_last = 2, weights 1/r.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.explain import EXACT, RESCORED, Explainer
from recsys_engine.models import create_model
from recsys_engine.models.data import TrainData, ordered_histories
from recsys_engine.split_data import SplitData
from tests.explain.test_explain_ordered import ordered_split

N_ITEMS = 12
SASREC = {"epochs": 2, "patience": 0, "dim": 8, "max_len": 6, "blocks": 1, "dropout": 0.0}


def walk_split() -> SplitData:
    """Fifteen users walking a shuffled ring of 12 items (time order ≠ item-id order), the
    last step of each walk held out as test, the one before as validation; user ``rep``
    goes back to an item it saw before (r0 r1 r2 r0 r3 | r4 | r5)."""
    rng = np.random.default_rng(3)
    ring = [f"i{j:02d}" for j in rng.permutation(N_ITEMS)]
    users, items, times, folds = [], [], [], []

    def walk(user: str, run: list[str]) -> None:
        for t, item in enumerate(run):
            users.append(user)
            items.append(item)
            times.append(float(t))
            folds.append(2 if t == len(run) - 1 else 1 if t == len(run) - 2 else 0)

    for u in range(15):
        start, n = int(rng.integers(N_ITEMS)), int(rng.integers(6, 9))
        walk(f"u{u:02d}", [ring[(start + t) % N_ITEMS] for t in range(n)])
    walk("rep", [ring[0], ring[1], ring[2], ring[0], ring[3], ring[4], ring[5]])
    users_a, items_a = np.array(users, dtype=object), np.array(items, dtype=object)
    times_a, folds_a = np.array(times), np.array(folds)
    user_ids, item_ids = sorted(set(users)), sorted(ring)
    train_mask = folds_a == 0
    train = TrainData.from_interactions(
        users_a[train_mask],
        items_a[train_mask],
        user_ids=user_ids,
        item_ids=item_ids,
        timestamps=times_a[train_mask],
    )
    train.split_strategy = "leave-last"
    u = np.searchsorted(user_ids, users_a)
    i = np.searchsorted(item_ids, items_a)
    shape = (len(user_ids), len(item_ids))

    def csr(mask: np.ndarray) -> sp.csr_matrix:
        m = sp.csr_matrix((np.ones(mask.sum(), np.float32), (u[mask], i[mask])), shape=shape)
        m.data[:] = 1.0  # a repeat is one interaction
        m.sort_indices()
        return m

    train.validation = csr(folds_a == 1)
    before = folds_a < 2
    return SplitData(
        train=train,
        seen=csr(before),
        test=csr(folds_a == 2),
        history=csr(before),
        history_sequence=ordered_histories(u[before], i[before], times_a[before], shape[0]),
    )


@pytest.fixture(scope="module")
def data() -> SplitData:
    return walk_split()


def run_of(data: SplitData, user: str) -> list[str]:
    """The user's train + validation items in time order (repeats kept)."""
    row = int(np.flatnonzero(data.train.user_ids == user)[0])
    indptr, items = data.history_sequence
    return [str(data.train.item_ids[j]) for j in items[indptr[row] : indptr[row + 1]]]


def listed(rec) -> list[str]:
    return [it.item_id for it in rec.items]


@pytest.mark.parametrize("name", ["transitions", "sasrec"])
def test_what_if_of_the_users_history_in_time_order_is_the_users_list(
    data: SplitData, name: str
) -> None:
    config = {"n_last": 3} if name == "transitions" else SASREC
    ex = Explainer(create_model(name, config).fit(data.train), data)
    assert ex.reads_order
    differs = 0
    for user in ex.test_users():
        run = run_of(data, str(user))
        # loaded oldest first, each item once at its last place
        distinct = list(dict.fromkeys(reversed(run)))[::-1]
        assert ex.history_in_order(str(user)) == distinct
        own = ex.recommend_user(str(user), k=5, explain=False)
        for history in (distinct, run):  # a repeat counts at its last place
            what_if = ex.recommend_history(history, k=5, explain=False)
            assert listed(what_if) == listed(own)
            np.testing.assert_allclose(
                [it.score for it in what_if.items], [it.score for it in own.items], rtol=1e-5
            )
        # the old reading, in item-id order, is another history for this model
        by_id = ex.recommend_history(sorted(distinct), k=5, explain=False)
        differs += listed(by_id) != listed(own) or not np.allclose(
            [it.score for it in by_id.items], [it.score for it in own.items]
        )
    assert differs > 0


def test_what_if_reasons_keep_recency_as_the_users_own(data: SplitData) -> None:
    ex = Explainer(create_model("sasrec", SASREC).fit(data.train), data)
    user = "rep"
    own = ex.recommend_user(user, k=1).items[0]
    what_if = ex.recommend_history(ex.history_in_order(user), k=1).items[0]
    assert what_if.item_id == own.item_id
    mine, theirs = what_if.reason("history"), own.reason("history")
    assert mine.fidelity == theirs.fidelity == RESCORED
    # r0 r1 r2 r0 r3 r4: r4 is the most recent (1), r0 counts at its second time (3)
    ranks = {row["item_id"]: row["recency"] for row in mine.rows}
    assert sorted(ranks.values()) == [1, 2, 3, 4, 5]
    assert ranks == {row["item_id"]: row["recency"] for row in theirs.rows}
    for a, b in zip(mine.rows, theirs.rows, strict=True):
        assert a["contribution"] == pytest.approx(b["contribution"], abs=1e-5)


@pytest.fixture
def transitions() -> Explainer:
    data = ordered_split()
    return Explainer(create_model("transitions", {"n_last": 2}).fit(data.train), data)


def test_the_order_given_decides_the_score_by_hand(transitions: Explainer) -> None:
    # c then a (a most recent): b scores 1·P[a,b] + ½·P[c,b] = 1
    (first,) = transitions.recommend_history(["c", "a"], k=1).items
    assert first.item_id == "b" and first.score == pytest.approx(1.0)
    # a then c (c most recent): b scores 1·P[c,b] + ½·P[a,b] = ½
    (second,) = transitions.recommend_history(["a", "c"], k=1).items
    assert second.item_id == "b" and second.score == pytest.approx(0.5)
    # a, c, a: a's last place counts, as for c then a
    (third,) = transitions.recommend_history(["a", "c", "a"], k=1).items
    assert third.score == pytest.approx(1.0)


def test_only_contributing_items_are_listed_and_one_reads_it(transitions: Explainer) -> None:
    # a then c: b gets ½ from a (½ · P[a,b]) and nothing from c (P[c,b] = 0)
    (item,) = transitions.recommend_history(["a", "c"], k=1).items
    reason = item.reason("history")
    assert reason.fidelity == EXACT
    assert [(r["item_id"], r["contribution"], r["share"]) for r in reason.rows] == [
        ("a", pytest.approx(0.5), pytest.approx(1.0))
    ]
    assert reason.summary == (
        "Because you just interacted with a (100%): this item often came next after it "
        "(share of the score)."
    )
    assert reason.check["residual"] < 1e-6


def test_an_order_blind_model_loads_the_whole_history(data: SplitData) -> None:
    ex = Explainer(create_model("ease").fit(data.train), data)
    assert not ex.reads_order
    for user in ex.test_users()[:5]:
        run = run_of(data, str(user))
        assert sorted(ex.history_in_order(str(user))) == sorted(set(run))
