"""Evaluation and runs: stored rows, unscorable users count as 0, no partial rows on failure."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.evaluation import RECOMMENDATION_DEPTH, EvalOptions, EvaluationResult, evaluate
from recsys_engine.models import create_model, get_model
from recsys_engine.models.popularity import Popularity
from recsys_engine.runs import (
    delete_run,
    evaluate_run,
    execute_run,
    load_run_model,
    queue_run,
    run_metric_dict,
    run_model,
)
from recsys_engine.split_data import load_split_data
from recsys_engine.splits import SplitConfig, create_split

RANKING = ("precision", "recall", "ndcg", "map", "mrr", "hitrate")


@pytest.fixture(autouse=True)
def _artefacts(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_ARTEFACTS", str(tmp_path / "artefacts"))


def _frame(n_users: int = 30, n_items: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    popular = rng.permutation(n_items)
    rows = []
    for u in range(n_users):
        n = int(rng.integers(5, 15))
        p = 1.0 / (1 + np.arange(n_items))
        items = rng.choice(popular, size=n, replace=False, p=p / p.sum())
        for j, i in enumerate(items):
            rows.append(
                (
                    f"u{u}",
                    f"i{i}",
                    float(rng.integers(1, 6)),
                    pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(u * 10 + j)),
                )
            )
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "ts"])


@pytest.fixture
def split(store):
    did = store.create_dataset_from_frames("toy", _frame())
    return create_split(store, did, SplitConfig(seed=1, validation_fraction=0.1))


def test_run_model_stores_every_row(store, split):
    run_id = run_model(store, split, "popularity")
    run = store.get_run(run_id)
    assert run["status"] == "succeeded" and run["error"] is None
    assert run["fit_seconds"] >= 0 and run["eval_seconds"] >= 0
    assert Path(run["artefact_path"]).name == f"run_{run_id}"
    assert (Path(run["artefact_path"]) / "model.json").exists()
    assert run["options"]["ks"] == [5, 10, 20]

    stats = store.get_split(split)["stats"]
    n_test = stats["test_users"]
    assert run["eval_info"]["test_users"] == n_test

    metrics = store.run_metrics(run_id)
    keys = set(zip(metrics.metric, metrics.k, strict=True))
    for name in (*RANKING, "novelty", "arp", "coverage", "personalization"):
        for k in (5, 10, 20):
            assert (name, k) in keys
    ndcg = metrics[(metrics.metric == "ndcg") & (metrics.k == 10)].iloc[0]
    assert ndcg.ci_low <= ndcg.value <= ndcg.ci_high

    um = store.user_metrics_frame(run_id)
    per = um.groupby(["metric", "k"]).size()
    for name in RANKING:
        assert per[(name, 10)] == n_test  # one row per test user, none dropped
    # the stored mean is the mean of the stored per-user rows
    rows = store.user_metrics_frame(run_id, "ndcg", 10)
    assert rows.value.mean() == pytest.approx(ndcg.value)

    recs = store.recommendations_frame(run_id)
    assert recs.user_id.nunique() == n_test
    # lists are RECOMMENDATION_DEPTH long, or as long as the unseen catalogue allows
    sizes = recs.groupby("user_id").size()
    assert ((sizes >= 20) & (sizes <= RECOMMENDATION_DEPTH)).all()
    ranks = recs.groupby("user_id")["rank"].apply(list)
    assert all(r == list(range(1, len(r) + 1)) for r in ranks)
    # no training or validation item is ever recommended
    folds = store.split_rows_frame(split)
    seen = set(
        zip(folds[folds.fold != "test"].user_id, folds[folds.fold != "test"].item_id, strict=True)
    )
    assert not seen & set(zip(recs.user_id, recs.item_id, strict=True))
    assert run_metric_dict(store, run_id)["ndcg@10"] == pytest.approx(ndcg.value)


def test_metric_values_by_hand(store):
    # popularity: i0 (3 users) > i1 (2) > i2 (1) > i3 (0); u_test's train item is i2
    df = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "t", "t", "t"],
            "item_id": ["i0", "i1", "i0", "i1", "i0", "i2", "i1", "i3"],
            "rating": 1.0,
        }
    )
    did = store.create_dataset_from_frames("hand", df)
    split = create_split(store, did, SplitConfig(seed=0))
    data = load_split_data(store, split)
    # force the test fold: t's test items are i1 and i3, nobody else has test items
    t = data.train.user_index(["t"])[0]
    i1, i2, i3 = data.train.item_index(["i1", "i2", "i3"])
    import scipy.sparse as sp

    data.test = sp.csr_matrix(([1.0, 1.0], ([t, t], [i1, i3])), shape=data.test.shape)
    train = data.train.matrix.tolil()
    train[t, :] = 0
    train[t, i2] = 1
    data.train.matrix = sp.csr_matrix(train)
    data.seen = data.train.matrix
    model = create_model("popularity").fit(data.train)
    result = evaluate(model, data, EvalOptions(ks=(2,)))
    # ranking for t (i2 excluded): i0 (miss), i1 (hit), i3 (hit)
    assert result.per_user[("precision", 2)].tolist() == [0.5]
    assert result.per_user[("recall", 2)].tolist() == [0.5]
    assert result.per_user[("ndcg", 2)][0] == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )
    assert result.per_user[("map", 2)][0] == pytest.approx((1 / 2) / 2)
    assert result.per_user[("mrr", 2)].tolist() == [0.5]


def test_unscorable_users_count_as_zero(store):
    did = store.create_dataset_from_frames("time", _frame(seed=3))
    # a global temporal cut leaves some test users without any training history
    split = create_split(store, did, SplitConfig(strategy="temporal", test_fraction=0.3))
    stats = store.get_split(split)["stats"]
    assert stats["test_users_unseen"] > 0
    run_id = run_model(store, split, "itemknn")
    info = store.get_run(run_id)["eval_info"]
    assert info["unscorable_users"] == stats["test_users_unseen"]
    assert info["test_users"] == stats["test_users"]
    um = store.user_metrics_frame(run_id, "ndcg", 10)
    assert len(um) == stats["test_users"]  # never dropped
    folds = store.split_rows_frame(split)
    train_users = set(folds[folds.fold == "train"].user_id)
    unseen = um[~um.user_id.isin(train_users)]
    assert len(unseen) == stats["test_users_unseen"] and (unseen.value == 0).all()
    recs = store.recommendations_frame(run_id)
    assert not set(recs.user_id) - train_users  # no list for users it cannot score
    # popularity can score them
    pop = run_model(store, split, "popularity")
    assert store.get_run(pop)["eval_info"]["unscorable_users"] == 0


def test_failure_leaves_no_partial_rows(store, split, monkeypatch):
    def boom(self, item_ids):
        raise RuntimeError("disk full while writing recommendations")

    monkeypatch.setattr(EvaluationResult, "recommendations_frame", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        run_model(store, split, "ease")
    run = store.list_runs().iloc[0]
    assert run.status == "failed" and "disk full" in run.error
    run_id = int(run.id)
    assert store.run_metrics(run_id).empty
    assert store.user_metrics_frame(run_id).empty
    assert store.recommendations_frame(run_id).empty
    assert not (Path(store.get_run(run_id)["artefact_path"] or "/nonexistent")).exists()


def test_write_results_is_one_transaction(store, split):
    run_id = store.create_run(1, split, "popularity", {})
    metrics = pd.DataFrame(
        {"metric": ["ndcg"], "k": [10], "value": [0.5], "ci_low": [0.4], "ci_high": [0.6]}
    )
    user_metrics = pd.DataFrame({"user_id": ["u1"], "metric": ["ndcg"], "k": [10], "value": [0.5]})
    bad_recs = pd.DataFrame(
        {"user_id": ["u1"], "rank": [1], "item_id": [None], "score": [1.0]}
    )  # item_id NOT NULL: the last insert fails
    with pytest.raises(Exception):  # noqa: B017 - any database error
        store.write_results(run_id, metrics, user_metrics, bad_recs)
    assert store.run_metrics(run_id).empty and store.user_metrics_frame(run_id).empty
    good_recs = bad_recs.assign(item_id=["i1"])
    store.write_results(run_id, metrics, user_metrics, good_recs)
    assert len(store.run_metrics(run_id)) == 1


def test_invalid_config_creates_no_run(store, split):
    with pytest.raises(ConfigError, match="neighbors"):
        run_model(store, split, "itemknn", {"neighbors": 5})
    with pytest.raises(ConfigError, match="unknown model"):
        run_model(store, split, "knn")
    with pytest.raises(ConfigError, match="ks"):
        run_model(store, split, "ease", options={"ks": [0]})
    assert store.list_runs().empty


def test_cancelled_run(store, split):
    run_id = run_model(store, split, "itemknn", should_stop=lambda: True)
    run = store.get_run(run_id)
    assert run["status"] == "cancelled" and run["finished_at"] is not None
    assert store.run_metrics(run_id).empty


def test_a_stopped_run_is_written_once_with_the_status_stopped_as_gives(store, split, monkeypatch):
    # a training process whose server died records ``interrupted`` directly: a reader in
    # between must never see the run ``cancelled`` (job_process)
    written = []
    set_status = store.set_run_status
    monkeypatch.setattr(
        store, "set_run_status", lambda rid, s, **kw: (written.append(s), set_status(rid, s, **kw))
    )
    run_id = queue_run(store, split, "itemknn")
    execute_run(
        store, run_id, should_stop=lambda: True, stopped_as=lambda: ("interrupted", "gone")
    )
    assert written == ["running", "interrupted"]
    run = store.get_run(run_id)
    assert (run["status"], run["error"]) == ("interrupted", "gone")
    assert store.run_metrics(run_id).empty
    # ``None`` from stopped_as: the cancel is recorded as one
    other = queue_run(store, split, "itemknn")
    execute_run(store, other, should_stop=lambda: True, stopped_as=lambda: None)
    assert store.get_run(other)["status"] == "cancelled"


def test_progress_is_reported_and_stored(store, split):
    seen = []
    run_id = run_model(store, split, "ease", on_progress=lambda d, t, i: seen.append(i["stage"]))
    assert "fit" in seen and "evaluate" in seen
    assert not store.run_progress(run_id).empty


def test_batch_size_does_not_change_results(store, split):
    data = load_split_data(store, split)
    model = create_model("ease", {"l2": 10.0}).fit(data.train)
    one = evaluate(model, data, EvalOptions(batch_size=1))
    many = evaluate(model, data, EvalOptions(batch_size=1000))
    for key, values in one.per_user.items():
        np.testing.assert_array_equal(values, many.per_user[key])
    np.testing.assert_array_equal(one.top_items, many.top_items)


def test_reevaluate_and_reload(store, split):
    run_id = run_model(store, split, "ease", {"l2": 10.0})
    before = store.recommendations_frame(run_id)
    model = load_run_model(store, run_id)
    data = load_split_data(store, split)
    again = evaluate(model, data)
    assert again.metric_dict()["ndcg@10"] == pytest.approx(
        run_metric_dict(store, run_id)["ndcg@10"]
    )
    evaluate_run(store, run_id, ks=(3, 7))
    metrics = store.run_metrics(run_id)
    assert set(metrics.k.dropna()) == {3, 7}
    assert store.get_run(run_id)["options"]["ks"] == [3, 7]
    after = store.recommendations_frame(run_id)
    # the stored lists keep their depth (RECOMMENDATION_DEPTH), whatever the cut-offs
    pd.testing.assert_frame_equal(
        after.reset_index(drop=True),
        before.reset_index(drop=True),
        check_exact=False,
    )


def test_positive_threshold(store, split):
    data = load_split_data(store, split, positive_threshold=4.0)
    folds = store.split_rows_frame(split)
    test_pos = folds[(folds.fold == "test") & (folds.rating >= 4)]
    assert data.test.nnz == len(test_pos)
    assert data.train.matrix.nnz == ((folds.fold == "train") & (folds.rating >= 4)).sum()
    assert data.seen.nnz == (folds.fold != "test").sum()  # all seen items stay excluded
    run_id = run_model(store, split, "popularity", options={"positive_threshold": 4.0})
    assert store.get_run(run_id)["eval_info"]["test_users"] == test_pos.user_id.nunique()


def test_run_lifecycle_helpers(store, split):
    a = run_model(store, split, "popularity")
    queued = store.create_run(1, split, "ease", {"l2": 1.0})
    running = store.create_run(1, split, "ease", {}, status="running")
    assert store.mark_unfinished_runs_interrupted() == 2
    assert store.get_run(queued)["status"] == "interrupted"
    assert store.get_run(running)["status"] == "interrupted"
    runs = store.list_runs(1)
    assert list(runs.id) == [running, queued, a]
    assert runs.set_index("id").loc[a, "ndcg_10"] > 0
    path = Path(store.get_run(a)["artefact_path"])
    delete_run(store, a)
    assert not path.exists()
    assert store.user_metrics_frame(a).empty and a not in set(store.list_runs().id)
    with pytest.raises(ConfigError, match="status"):
        store.set_run_status(queued, "exploded")
    with pytest.raises(ConfigError, match="used by runs"):
        store.delete_split(split)


def test_validation_view(store, split):
    data = load_split_data(store, split)
    view = data.validation_view()
    assert view.test.nnz == data.train.validation.nnz > 0
    model = create_model("popularity").fit(data.train)
    result = evaluate(model, view, EvalOptions(ks=(5,)))
    assert result.info["test_users"] == (np.diff(data.train.validation.indptr) > 0).sum()


def test_queue_then_execute(store, split):
    from recsys_engine.runs import execute_run, queue_run

    run_id = queue_run(store, split, "itemknn", {"neighbours": 5})
    assert store.get_run(run_id)["status"] == "queued"
    execute_run(store, run_id)
    run = store.get_run(run_id)
    assert run["status"] == "succeeded" and run["config"]["neighbours"] == 5
    assert run["started_at"] is not None and run["finished_at"] is not None
    other = queue_run(store, split, "ease")
    store.set_run_status(other, "cancelled", error="cancelled before it started")
    execute_run(store, other)  # no longer queued: left alone
    assert store.get_run(other)["status"] == "cancelled"
    assert store.run_metrics(other).empty


class _FixedScores:
    """A stand-in model with one fixed score per item (every user alike)."""

    def __init__(self, scores: list[float]):
        self.scores = np.asarray(scores, dtype=np.float32)

    def score(self, histories, items=None):
        row = self.scores if items is None else self.scores[np.asarray(items)]
        return np.tile(row, (histories.shape[0], 1))

    def can_score(self, histories):
        return np.ones(histories.shape[0], dtype=bool)

    def reusing_score_block(self):
        return contextlib.nullcontext()  # fresh scores every call, as outside the block


def test_new_arrivals_shelf_by_hand():
    import scipy.sparse as sp

    from recsys_engine.models.data import TrainData
    from recsys_engine.shelf import new_arrivals, shelf_metrics
    from recsys_engine.split_data import SplitData

    # 6 items: 0–2 seen in training, 3–5 new in the test period. Three test users:
    #   u0 chose new item 5 (and old item 1); u1 chose new items 3 and 4; u2 only old item 0.
    train = sp.csr_matrix(np.array([[1, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]]))
    test = sp.csr_matrix(np.array([[0, 1, 0, 0, 0, 1], [0, 0, 0, 1, 1, 0], [1, 0, 0, 0, 0, 0]]))
    data = SplitData(
        train=TrainData(
            matrix=train.astype(np.float32),
            user_ids=np.array(["u0", "u1", "u2"], dtype=object),
            item_ids=np.array([f"i{i}" for i in range(6)], dtype=object),
        ),
        seen=train.astype(np.float32),
        test=test.astype(np.float32),
    )
    assert list(new_arrivals(data)) == [3, 4, 5]
    # the model prefers old items (never on the shelf), then new items 4 > 3 > 5
    model = _FixedScores([9, 8, 7, 2, 3, 1])
    out = shelf_metrics(model, data, np.array([0, 1, 2]), (1, 2))
    # shelf@1 = [4]: u0 (wants 5) misses, u1 (wants 3, 4) hits; u2 has no new item → NaN
    assert out[("shelf_hitrate", 1)][:2].tolist() == [0.0, 1.0]
    assert np.isnan(out[("shelf_hitrate", 1)][2])
    assert out[("shelf_recall", 1)][:2].tolist() == [0.0, 0.5]
    # shelf@2 = [4, 3]: u1 has both at the top → NDCG 1; u0 still misses → 0
    assert out[("shelf_ndcg", 2)][:2].tolist() == [0.0, 1.0]
    assert out[("shelf_recall", 2)][:2].tolist() == [0.0, 1.0]


def test_no_shelf_without_new_items(store, split):
    data = load_split_data(store, split)
    model = create_model("popularity").fit(data.train)
    result = evaluate(model, data)
    assert not any(name.startswith("shelf_") for name, _ in result.beyond)


def test_cold_items_split_reports_the_new_arrivals_shelf(store):
    did = store.create_dataset_from_frames("cold", _frame(n_users=40, n_items=60))
    sid = create_split(store, did, SplitConfig(strategy="cold-items", test_fraction=0.2, seed=2))
    run_id = run_model(store, sid, "popularity")
    metrics = run_metric_dict(store, run_id)
    for k in (5, 10, 20):
        assert 0.0 <= metrics[f"shelf_recall@{k}"] <= 1.0
        assert f"shelf_ndcg@{k}" in metrics and f"shelf_hitrate@{k}" in metrics
    # Popularity cannot rank new items at all (they have no training interactions): its
    # all-items ranking never shows them, while the shelf still ranks them (all tied)
    assert metrics["recall@10"] == 0.0


def test_last_duration_finds_the_newest_run_with_the_same_config(store, split):
    from recsys_engine.runs import last_duration

    did = store.get_split(split)["dataset_id"]
    assert last_duration(store, did, "itemknn", {"neighbours": 50}) is None
    first = run_model(store, split, "itemknn", {"neighbours": 50})
    run_model(store, split, "itemknn", {"neighbours": 20})  # other settings: not counted
    found = last_duration(store, did, "itemknn", {"neighbours": 50})
    run = store.get_run(first)
    assert found == (first, pytest.approx(run["fit_seconds"] + run["eval_seconds"]))
    again = run_model(store, split, "itemknn", {"neighbours": 50})
    assert last_duration(store, did, "itemknn", {"neighbours": 50})[0] == again
# -- ordered histories (issue 18) -------------------------------------------------------------
@pytest.fixture
def leave_last(store):
    did = store.create_dataset_from_frames("toy in order", _frame())
    return create_split(
        store, did, SplitConfig(strategy="leave-last", n_last=1, validation_last=1)
    )


def test_split_data_keeps_each_users_training_run_in_time_order(store, leave_last):
    data = load_split_data(store, leave_last)
    train = data.train
    assert train.split_strategy == "leave-last" and train.has_order
    folds = store.split_rows_frame(leave_last)
    stamps = _frame().set_index(["user_id", "item_id"])["ts"]
    rows = folds[folds.fold == "train"].copy()
    rows["ts"] = stamps.loc[list(zip(rows.user_id, rows.item_id, strict=True))].to_numpy()
    for u, user_id in enumerate(train.user_ids):
        run = train.sequence_items[train.sequence_indptr[u] : train.sequence_indptr[u + 1]]
        expected = rows[rows.user_id == user_id].sort_values("ts").item_id
        assert list(train.item_ids[run]) == list(expected)
    # every training interaction is in the runs once, and the last one has recency 1
    assert len(train.sequence_items) == train.matrix.nnz
    recency = train.recency()
    last = train.sequence_items[train.sequence_indptr[1:] - 1]
    assert (recency[np.arange(train.n_users), last] == 1).all()


def test_random_split_data_has_order_but_says_the_split_does_not_keep_it(store, split):
    data = load_split_data(store, split)
    assert data.train.has_order
    assert "split is 'random', which does not keep time order" in data.train.order_problem()


def test_evaluate_scores_order_aware_models_with_each_users_recency(store, leave_last):
    from recsys_engine.models.transitions import Transitions

    seen: list = []

    class Spy(Transitions):
        def score_in_order(self, histories, recency, items=None):
            seen.append(recency)
            return super().score_in_order(histories, recency, items)

    data = load_split_data(store, leave_last)
    model = Spy().fit(data.train)
    result = evaluate(model, data, EvalOptions(ks=(10,), batch_size=7))
    users = data.train.user_index(result.user_ids)
    assert len(seen) == -(-len(users) // 7) and all(r is not None for r in seen)
    got = sp.vstack(seen).tocsr()
    assert (got != data.input_recency()[users]).nnz == 0
    # the stored lists are the ordered scores' top items
    scores = model.score_in_order(data.inputs[users], data.input_recency()[users])
    scores[data.seen[users].toarray() > 0] = -np.inf
    np.testing.assert_array_equal(result.top_scores[:, 0], scores.max(axis=1))


def test_order_aware_model_is_refused_on_a_random_split_before_queueing(store, split):
    from recsys_engine.runs import queue_run

    before = len(store.list_runs())
    with pytest.raises(ConfigError, match="'transitions' learns from the order of events"):
        queue_run(store, split, "transitions")
    assert len(store.list_runs()) == before


def test_transitions_run_on_a_leave_last_split(store, leave_last):
    run_id = run_model(store, leave_last, "transitions", {"n_last": 3})
    assert store.get_run(run_id)["status"] == "succeeded"
    assert 0.0 <= run_metric_dict(store, run_id)["ndcg@10"] <= 1.0


def test_check_run_names_what_the_model_needs_from_the_split(store, split, leave_last):
    from recsys_engine.runs import check_run

    with pytest.raises(ConfigError, match="create a temporal or leave-last split"):
        check_run(store, split, "transitions", {})
    assert check_run(store, leave_last, "transitions", {"n_last": 2}).n_last == 2
    assert check_run(store, split, "ease", {"l2": 10.0}).l2 == 10.0


def test_test_users_are_scored_from_train_and_validation_events(store, leave_last):
    """The validation event happened before the test event: it is in the test-time input
    (as the most recent item of an ordered history), never in a validation-time input."""
    data = load_split_data(store, leave_last)
    val = data.train.validation
    assert val.nnz > 0
    expected = ((data.train.matrix + val) > 0).astype(np.float32)
    assert ((data.inputs > 0).astype(np.float32) != expected).nnz == 0
    # each user's validation item is their most recent input (leave-last: val just before test)
    recency = data.input_recency()
    rows, cols = val.nonzero()
    assert (np.asarray(recency[rows, cols]).ravel() == 1).all()
    # validation-time scoring sees the training fold only
    view = data.validation_view()
    assert view.history is None and (view.inputs != data.train.matrix).nnz == 0

    class Spy(Popularity):
        def score(self, histories, items=None):
            Spy.inputs.append(histories)
            return super().score(histories, items)

    Spy.inputs = []
    result = evaluate(Spy().fit(data.train), data, EvalOptions(ks=(10,)))
    users = data.train.user_index(result.user_ids)
    assert (sp.vstack(Spy.inputs).tocsr() != data.inputs[users]).nnz == 0
    assert result.info["test_history"] == "train+validation"
    Spy.inputs = []
    assert evaluate(Spy().fit(data.train), view, EvalOptions(ks=(10,))).info[
        "test_history"
    ] == "train"


def test_per_user_embedding_models_are_scored_from_their_training_history(store, leave_last):
    """NeuMF and rating MF know a user only by their exact training history: a test-time
    history that also holds the validation event matches nobody, so evaluation gives them
    the training fold (before, every test user of a split with a validation fold was
    unscorable and NeuMF's NDCG@10 was 0)."""
    data = load_split_data(store, leave_last)
    assert data.train.validation.nnz > 0

    class Spy(Popularity):
        knows_users_by_training_history = True

        def score(self, histories, items=None):
            Spy.inputs.append(histories)
            return super().score(histories, items)

    Spy.inputs = []
    result = evaluate(Spy().fit(data.train), data, EvalOptions(ks=(10,)))
    users = data.train.user_index(result.user_ids)
    assert (sp.vstack(Spy.inputs).tocsr() != data.train.matrix[users]).nnz == 0
    assert (data.inputs[users] != data.train.matrix[users]).nnz > 0  # the others' input

    config = {"epochs": 2, "factors": 4, "mlp_layers": [4], "patience": 0}
    neumf = create_model("neumf", config).fit(data.train)
    result = evaluate(neumf, data, EvalOptions(ks=(10,)))
    assert result.info["test_users"] == 30 and result.info["unscorable_users"] == 0
    assert result.scorable.all()


def test_content_starts_from_new_arrival_settings_on_a_cold_items_split(store, split):
    """Content-based's defaults on a cold-items split leave new items out of its softmax
    and ignore rare words (chosen on a validation fold); what the user sets wins, other
    splits and Hybrid keep the plain defaults, and the stored run has the settings used."""
    from recsys_engine.runs import check_run, queue_run

    did = store.create_dataset_from_frames("cold", _frame(n_users=40, n_items=60))
    cold = create_split(store, did, SplitConfig(strategy="cold-items", test_fraction=0.2, seed=2))
    on_cold = check_run(store, cold, "content", {})
    assert (on_cold.new_item_negatives, on_cold.min_df) == (False, 5)
    assert check_run(store, cold, "content", {"min_df": 2}).min_df == 2
    on_random = check_run(store, split, "content", {})
    assert (on_random.new_item_negatives, on_random.min_df) == (True, 2)
    hybrid = check_run(store, cold, "hybrid", {})
    assert (hybrid.new_item_negatives, hybrid.min_df) == (False, 2)
    assert get_model("content").default_config("cold-items")["min_df"] == 5
    run_id = queue_run(store, cold, "content", {"epochs": 1})
    assert store.get_run(run_id)["config"]["min_df"] == 5


@pytest.mark.parametrize(
    ("model", "imports"), [("two_tower", ["import", "fit"]), ("ease", ["fit"])]
)
def test_a_runs_fit_time_starts_after_the_keras_import(store, split, monkeypatch, model, imports):
    """``fit_seconds`` is training time: a Keras model's first use imports Keras (seconds),
    which ``execute_run`` does before the fit clock starts; other models import nothing."""
    from recsys_engine import runs
    from recsys_engine.runs import execute_run, queue_run

    calls: list[str] = []
    items: list[int] = []

    def keras_backend(catalogue_items: int = 0) -> None:
        calls.append("import")
        items.append(catalogue_items)

    monkeypatch.setattr(runs, "keras_backend", keras_backend)
    cls = get_model(model).cls

    def fit(self, train, on_progress=None, should_stop=None):
        calls.append("fit")
        raise ConfigError("stopped here by the test")

    monkeypatch.setattr(cls, "fit", fit)
    run_id = queue_run(store, split, model)
    with pytest.raises(ConfigError):
        execute_run(store, run_id)
    assert calls == imports
    # the catalogue's size goes with the import (it picks the memory allocator)
    assert items == ([load_split_data(store, split).train.n_items] if "import" in imports else [])
