"""Job runner: queued runs execute in a worker thread, cancel, failures, restart."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from recsys_engine.jobs import JobRunner
from recsys_engine.runs import execute_run, queue_run
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store


def _wait(store: Store, run_id: int, timeout: float = 30.0) -> str:
    end = time.time() + timeout
    while time.time() < end:
        status = store.get_run(run_id)["status"]
        if status not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {status}")


@pytest.fixture
def split_store(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    rng = np.random.default_rng(0)
    users = np.repeat([f"u{i}" for i in range(60)], 10)
    items = [f"i{j}" for j in rng.integers(0, 40, size=600)]
    df = pd.DataFrame({"user_id": users, "item_id": items}).drop_duplicates()
    df["rating"] = 4.0
    did = store.create_dataset_from_frames("toy", df, feedback="implicit")
    sid = create_split(store, did, SplitConfig(test_fraction=0.2, seed=1))
    yield store, sid
    store.close()


def test_runner_executes_queued_run_and_writes_results(split_store):
    store, sid = split_store
    runner = JobRunner(store)
    run_id = queue_run(store, sid, "popularity", {})
    assert store.get_run(run_id)["status"] == "queued"
    runner.submit(run_id)
    assert _wait(store, run_id) == "succeeded"
    assert not store.run_metrics(run_id).empty
    assert len(store.recommendations_frame(run_id)) > 0
    runner.shutdown()


def test_progress_rows_have_stage_and_total(split_store):
    store, sid = split_store
    run_id = queue_run(store, sid, "ease", {})
    execute_run(store, run_id)
    progress = store.run_progress(run_id)
    assert set(progress["stage"].dropna()) >= {"evaluate"}
    last = progress[progress["stage"] == "evaluate"].iloc[-1]
    assert last["step"] == last["total"] > 0


def test_cancel_queued_run_before_it_starts(split_store):
    store, sid = split_store
    started = []

    def slow(store_, run_id, should_stop):
        started.append(run_id)
        while not should_stop():
            time.sleep(0.01)
        store_.set_run_status(run_id, "cancelled", error="cancelled")

    runner = JobRunner(store, execute=slow)
    first = queue_run(store, sid, "popularity", {})
    second = queue_run(store, sid, "popularity", {})
    runner.submit(first)
    runner.submit(second)
    time.sleep(0.2)
    runner.cancel(second)  # still queued behind the first
    assert store.get_run(second)["status"] == "cancelled"
    runner.cancel(first)  # running: the executor sees should_stop()
    assert _wait(store, first) == "cancelled"
    runner.shutdown()
    assert started == [first]


def test_failed_run_leaves_no_result_rows(split_store, monkeypatch):
    store, sid = split_store
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("recsys_engine.runs.evaluate", broken)
    runner = JobRunner(store)
    run_id = queue_run(store, sid, "popularity", {})
    runner.submit(run_id)
    assert _wait(store, run_id) == "failed"
    run = store.get_run(run_id)
    assert "disk on fire" in run["error"]
    for table in ("metrics", "user_metrics", "recommendations"):
        n = (
            store.cursor()
            .execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id])
            .fetchall()[0][0]
        )
        assert n == 0
    runner.shutdown()


def test_restart_marks_unfinished_runs_interrupted(tmp_path):
    path = tmp_path / "db.duckdb"
    store = Store(path)
    did = store.create_dataset_from_frames(
        "t",
        pd.DataFrame({"user_id": ["a", "a", "b", "b"], "item_id": ["1", "2", "1", "3"]}),
        feedback="implicit",
    )
    sid = create_split(store, did, SplitConfig(test_fraction=0.5, seed=0))
    queued = queue_run(store, sid, "popularity", {})
    running = queue_run(store, sid, "popularity", {})
    store.set_run_status(running, "running")
    store.close()
    store = Store(path)  # a new server
    assert store.mark_unfinished_runs_interrupted() == 2
    for rid in (queued, running):
        run = store.get_run(rid)
        assert run["status"] == "interrupted"
        assert "server stopped" in run["error"]
    store.close()
