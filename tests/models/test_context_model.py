"""Event context (issue 18): codes on TrainData/SplitData, evaluation in each test event's
context, the context-aware two-tower (refusal, save/load) and its context explanation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from recsys_engine.errors import ConfigError
from recsys_engine.evaluation import EvalOptions, evaluate
from recsys_engine.explain.event_context import context_effects, ranks_of
from recsys_engine.models import create_model
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import top_k
from recsys_engine.models.model_config import ModelConfig
from recsys_engine.split_data import SplitData, load_split_data
from recsys_engine.splits import SplitConfig, create_split

HOUR = 3600


def tiny(store, context=("device",)):
    """u1: a(mobile, t1) b(tv, t2) c(mobile, t3); u2: b(tv, t1) a(unknown, t2) d(web, t3);
    leave-last-1: c and d are test events."""
    rows = [
        ("u1", "a", 1, "mobile"),
        ("u1", "b", 2, "tv"),
        ("u1", "c", 3, "mobile"),
        ("u2", "b", 1, "tv"),
        ("u2", "a", 2, None),
        ("u2", "d", 3, "web"),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "t", "device"])
    frame["ts"] = pd.to_datetime(frame.pop("t") * HOUR, unit="s")
    did = store.create_dataset_from_frames("tiny", frame, feedback="implicit", context=context)
    sid = create_split(store, did, SplitConfig(strategy="leave-last", n_last=1))
    return load_split_data(store, sid)


def test_train_context_is_aligned_with_the_ordered_histories(store):
    data = tiny(store)
    train = data.train
    vocab = train.context.vocab
    # the vocabulary holds the training values only ("web" is a test value): codes
    # 1 = mobile, 2 = tv; 0 = unknown
    assert vocab.fields == ("device",) and vocab.values == (("mobile", "tv"),)
    items = dict(zip(["a", "b", "c", "d"], range(4), strict=True))
    # u1's history oldest first: a, b; u2's: b, a
    assert train.sequence_items.tolist() == [items["a"], items["b"], items["b"], items["a"]]
    assert train.context.items.tolist() == train.sequence_items.tolist()
    assert train.context.codes[:, 0].tolist() == [1, 2, 2, 0]
    # test events c (mobile) and d (web: unseen in training → unknown)
    assert data.test_context.items.tolist() == [items["c"], items["d"]]
    assert data.test_context.codes[:, 0].tolist() == [1, 0]
    assert vocab.decode(np.array([2])) == {"device": "tv"}


class Recorder(Recommender):
    """A context-aware stub recording the contexts evaluation passes."""

    name = "recorder"
    config_class = ModelConfig

    seen_contexts: list[np.ndarray]

    @property
    def uses_context(self) -> bool:
        return True

    def fit(self, train, on_progress=None, should_stop=None):
        self.item_ids = train.item_ids
        self.seen_contexts = []
        return self

    def score(self, histories, items=None):
        return np.zeros((histories.shape[0], self.n_items), dtype=np.float32)

    def score_in_context(self, histories, recency, context, items=None):
        self.seen_contexts.append(np.array(context))
        return self.score(histories, items)

    def _arrays(self):
        return {}

    def _set_arrays(self, arrays):
        pass


def test_evaluation_passes_each_test_events_own_context(store):
    data = tiny(store)
    model = Recorder().fit(data.train)
    evaluate(model, data, EvalOptions(ks=(1,)))
    # the all-items ranking, then the new-arrivals shelf (c and d are new items here)
    ranking, shelf = model.seen_contexts
    assert ranking[:, 0].tolist() == [1, 0]  # u1's test event c: mobile; u2's d: unknown
    assert shelf[:, 0].tolist() == [1, 0]


def groups_frame(n_users=80, n_items=40, seed=0) -> pd.DataFrame:
    """Device A events pick from items 0–19, device B from 20–39 (per user group)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        g = u % 4
        a = list(rng.permutation(np.arange(5) + 5 * g))
        b = list(rng.permutation(20 + np.arange(5) + 5 * g))
        for t, d in enumerate(rng.permutation(["A"] * 4 + ["B"] * 4)):
            item = a.pop() if d == "A" else b.pop()
            rows.append((f"u{u}", f"i{item:02d}", pd.Timestamp(t * HOUR, unit="s"), d))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "device"])


SMALL = {"epochs": 4, "dim": 16, "batch_size": 64, "ema": 0.0, "patience": 0, "seed": 0}


@contextmanager
def fitted_on_groups(model: str, config: dict) -> Iterator[tuple[SplitData, Recommender]]:
    """``groups_frame`` in an in-memory store, split leave-last-1, and ``model`` fitted on
    it with ``config`` and its event context."""
    from recsys_engine.store import Store

    store = Store(":memory:")
    try:
        did = store.create_dataset_from_frames(
            "groups", groups_frame(), feedback="implicit", context=("device",)
        )
        sid = create_split(store, did, SplitConfig(strategy="leave-last", n_last=1))
        data = load_split_data(store, sid)
        yield data, create_model(model, {**config, "use_context": True}).fit(data.train)
    finally:
        store.close()


@pytest.fixture(scope="module")
def fitted():
    with fitted_on_groups("two_tower", SMALL) as pair:
        yield pair


def test_use_context_is_refused_without_context(store):
    data = tiny(store, context=())
    with pytest.raises(ConfigError, match="use_context is on, but this dataset has no context"):
        create_model("two_tower", {**SMALL, "use_context": True}).fit(data.train)


def test_context_model_round_trips_with_its_context(fitted, tmp_path):
    data, model = fitted
    assert model.uses_context
    h = data.inputs[:5]
    codes = np.array([[1], [2], [0], [1], [2]], dtype=np.int32)
    before = model.score_in_context(h, None, codes)
    # the neutral context (code 0) gives the context-blind score; a device changes it
    assert np.allclose(before[2], model.score(h[2])[0])
    assert not np.allclose(before[0], model.score(h[0])[0])
    loaded = Recommender.load(model.save(tmp_path / "m"))
    assert loaded.uses_context
    assert loaded.context_vocab == model.context_vocab == data.train.context.vocab
    assert np.allclose(loaded.score_in_context(h, None, codes), before, atol=1e-6)


def test_stated_rank_change_equals_the_rescored_rank_change(fitted):
    data, model = fitted
    vocab = model.context_vocab
    history = data.inputs[0]
    exclude = data.seen[0]
    codes = vocab.encode_one({"device": "B"})
    listed, _ = top_k(
        np.where(np.isin(np.arange(40), exclude.indices), -np.inf, model.score(history)), 10
    )
    effects = context_effects(model, history, exclude, listed[0], codes, vocab)
    # re-score independently: full rankings in context B and in the neutral context
    in_b = model.score_in_context(history, None, codes[None, :])[0]
    neutral = model.score_in_context(history, None, np.zeros((1, 1), np.int32))[0]
    for e in effects:
        ranked_b = ranks_of(in_b, exclude.indices, [e.item])[0]
        ranked_0 = ranks_of(neutral, exclude.indices, [e.item])[0]
        assert e.rank_change == ranked_0 - ranked_b
        assert e.contribution == pytest.approx(float(in_b[e.item] - neutral[e.item]), abs=1e-5)
    moved = [e for e in effects if e.rank_change]
    assert moved, "device B must move some items of the neutral list"
    e = moved[0]
    word = "rises" if e.rank_change > 0 else "falls"
    assert f"device B) this item {word} {abs(e.rank_change)} place" in e.sentence()


def test_ranks_of_breaks_ties_by_item_index():
    scores = np.array([0.5, 0.9, 0.5, 0.1])
    assert ranks_of(scores, np.array([1]), [0, 2, 3]).tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "config",
    [
        SplitConfig(strategy="random", test_fraction=0.25, seed=3),
        SplitConfig(strategy="temporal", test_fraction=0.25),
        SplitConfig(strategy="leave-last", n_last=2),
    ],
    ids=["random", "temporal", "leave-last-2"],
)
def test_every_test_event_carries_its_own_context(store, config):
    frame = groups_frame(n_users=12)
    did = store.create_dataset_from_frames("g", frame, feedback="implicit", context=("device",))
    data = load_split_data(store, create_split(store, did, config))
    test = data.test.tocoo()
    assert len(data.test_context) == test.nnz > 0
    codes = data.test_context.lookup(test.row, test.col)[:, 0]
    users = data.train.user_ids[test.row]
    items = data.train.item_ids[test.col]
    stored = frame.set_index(["user_id", "item_id"])["device"]
    expected = [{"A": 1, "B": 2}[stored[(u, i)]] for u, i in zip(users, items, strict=True)]
    assert codes.tolist() == expected
    # each test user is scored in the context of their earliest test event
    first = data.test_user_context(np.unique(test.row))[:, 0]
    ts = frame.assign(code=frame.device.map({"A": 1, "B": 2}))
    ts = ts[ts.set_index(["user_id", "item_id"]).index.isin(list(zip(users, items, strict=True)))]
    earliest = ts.sort_values(["user_id", "ts", "item_id"]).groupby("user_id").code.first()
    assert first.tolist() == earliest[data.train.user_ids[np.unique(test.row)]].tolist()


def test_a_context_run_is_refused_before_queueing_on_data_without_context(store):
    from recsys_engine.runs import queue_run

    tiny(store, context=())
    sid = int(store.list_splits()["id"].iloc[0])
    with pytest.raises(ConfigError, match="use_context is on, but dataset 1 has no context"):
        queue_run(store, sid, "two_tower", {"use_context": True})
    assert len(store.list_runs()) == 0
