"""Study jobs of the background runner (issue 15): a study runs in the runner's thread,
reports which study it is, can be cancelled queued or running, and its trials are read back
from Optuna's storage while and after it runs."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from recsys_engine.errors import ConfigError, FitCancelled
from recsys_engine.jobs import JobRunner, StudyJob
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store
from recsys_engine.tuning import study_trials, trials_table, tune
from recsys_engine.tuning.storage import reopen_spec
from recsys_engine.tuning.trials import VALUE_COLUMN, load_study


@pytest.fixture(autouse=True)
def _artefacts(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_ARTEFACTS", str(tmp_path / "artefacts"))


@pytest.fixture
def split_store(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    rng = np.random.default_rng(0)
    rows = [
        (f"u{u}", f"i{i}")
        for u in range(40)
        for i in rng.choice(np.arange(u % 2, 30, 2), size=8, replace=False)
    ]
    df = pd.DataFrame(rows, columns=["user_id", "item_id"])
    did = store.create_dataset_from_frames("toy", df, feedback="implicit")
    sid = create_split(store, did, SplitConfig(test_fraction=0.2, validation_fraction=0.15, seed=1))
    yield store, sid
    store.close()


def _wait(runner: JobRunner, job_id: int, timeout: float = 60.0) -> StudyJob:
    end = time.time() + timeout
    while time.time() < end:
        job = next(j for j in runner.study_jobs() if j.job_id == job_id)
        if job.status not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"study job {job_id} still {job.status}")


def test_a_study_job_tunes_and_trains_the_best_config(split_store):
    store, sid = split_store
    runner = JobRunner(store)
    job_id = runner.submit_study(StudyJob(sid, "ease", trials=3, space={"binary": True}))
    job = _wait(runner, job_id)
    runner.shutdown()
    assert job.status == "succeeded", job.error
    row = store.get_study(job.study_id)
    assert row["status"] == "succeeded" and row["best_run_id"] == job.run_id
    assert store.get_run(job.run_id)["tuning"]["trials"] == 3
    # the trials are read back from the journal next to the database
    assert row["storage"].startswith("journal:")
    rows = study_trials(store, job.study_id)
    assert [r["number"] for r in rows] == [0, 1, 2]
    table = trials_table(rows)
    assert list(table["Trial"]) == [0, 1, 2]
    assert set(table["Status"]) == {"complete"}
    best = table[VALUE_COLUMN].max()
    assert table["Best so far"].iloc[-1] == pytest.approx(best)
    assert (table["Best so far"].diff().dropna() >= 0).all()  # never goes down
    assert "l2" in table.columns and "binary" not in table.columns  # fixed, not searched


def test_a_failing_study_job_says_why(split_store, tmp_path):
    store, _ = split_store
    did = store.create_dataset_from_frames(
        "plain", pd.DataFrame({"user_id": ["a", "a", "b", "b"], "item_id": ["x", "y", "x", "y"]})
    )
    no_val = create_split(store, did, SplitConfig(test_fraction=0.5, seed=1, min_interactions=1))
    runner = JobRunner(store)
    job = _wait(runner, runner.submit_study(StudyJob(no_val, "ease", trials=2)))
    runner.shutdown()
    assert job.status == "failed" and "no validation fold" in job.error
    assert job.study_id is None and job.run_id is None


def test_cancel_a_queued_and_a_running_study_job(split_store):
    store, sid = split_store
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def fake_tune(store, job, should_stop, on_start):
        calls.append(job.job_id)
        on_start(100 + job.job_id)
        started.set()
        release.wait(10)
        if should_stop():
            raise FitCancelled("tuning was cancelled")
        return 7

    runner = JobRunner(store, tune=fake_tune)
    first = runner.submit_study(StudyJob(sid, "ease", trials=2))
    second = runner.submit_study(StudyJob(sid, "ease", trials=2))
    assert started.wait(10)
    runner.cancel_study(second)  # still queued: never starts
    runner.cancel_study(first)  # running: stops at its next check
    assert next(j for j in runner.study_jobs() if j.job_id == first).stopping
    release.set()
    done = _wait(runner, first)
    runner.shutdown()
    assert done.status == "cancelled" and done.study_id == 101 and done.run_id is None
    assert not done.stopping
    queued = next(j for j in runner.study_jobs() if j.job_id == second)
    assert queued.status == "cancelled" and queued.error == "cancelled before it started"
    assert calls == [first]


def test_tune_cancelled_between_trials_trains_nothing(split_store):
    store, sid = split_store
    seen: list[dict] = []
    with pytest.raises(FitCancelled, match="cancelled after 1 trials"):
        tune(store, sid, "ease", trials=5, on_trial=seen.append, should_stop=lambda: bool(seen))
    row = store.list_studies(sid).iloc[0]
    assert row["status"] == "cancelled" and pd.isna(row["best_run_id"])
    assert store.list_runs().empty


def test_a_study_kept_in_memory_cannot_be_reopened(tmp_path):
    with pytest.raises(ConfigError, match="kept in memory"):
        reopen_spec("memory", "s1")
    with pytest.raises(ConfigError, match="password is not stored"):
        reopen_spec("postgresql://bob:***@db/optuna", "s1")
    assert reopen_spec(f"journal:{tmp_path}/x.journal", "s1") == f"{tmp_path}/x.journal"
    store = Store(":memory:")
    try:
        did = store.create_dataset_from_frames(
            "m",
            pd.DataFrame({"user_id": list("aabbccdd"), "item_id": list("xyxyxyxy")}),
        )
        sid = create_split(
            store,
            did,
            SplitConfig(test_fraction=0.3, validation_fraction=0.3, seed=1, min_interactions=1),
        )
        study_id = store.create_study(
            did, sid, "ease", name="s", storage="memory", space={}, fixed={}, budget={}
        )
        with pytest.raises(ConfigError, match="kept in memory"):
            load_study(store, study_id)
    finally:
        store.close()


def test_a_keras_trial_stopped_by_cancel_is_shown_as_cancelled(split_store):
    store, sid = split_store
    space = {"epochs": 3, "dim": 8, "patience": 0, "ema": 0.0, "learning_rate": [1e-3, 1e-2]}
    with pytest.raises(FitCancelled):
        tune(store, sid, "two_tower", trials=3, space=space, should_stop=lambda: True)
    (row,) = store.list_studies(sid).to_dict("records")
    assert row["status"] == "cancelled"
    rows = study_trials(store, int(row["id"]))
    assert [r["state"] for r in rows] == ["cancelled"]
    assert trials_table(rows)["Status"].tolist() == ["cancelled"]


def test_a_server_start_interrupts_studies_whose_process_is_gone(split_store):
    import subprocess
    import sys

    store, sid = split_store
    did = int(store.get_split(sid)["dataset_id"])
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ids = {}
        for name, pid in (("gone", dead), ("cli", str(alive.pid)), ("mine", None)):
            ids[name] = store.create_study(
                did, sid, "ease", name=name, storage="memory", space={}, fixed={}, budget={}
            )
            if pid is not None:  # as if another process had started it
                import socket

                store.cursor().execute(
                    "UPDATE studies SET owner = ? WHERE id = ?",
                    [f"{socket.gethostname()}:{pid}", ids[name]],
                )
        # this process's own study counts as left over too: at a start it runs nothing
        assert store.mark_unfinished_studies_interrupted() == 2
        status = {n: store.get_study(i)["status"] for n, i in ids.items()}
        assert status == {"gone": "interrupted", "cli": "running", "mine": "interrupted"}
        assert "stopped before it finished" in store.get_study(ids["gone"])["error"]
    finally:
        alive.kill()
        alive.wait()


def test_importance_is_shown_only_with_enough_complete_trials():
    import optuna

    from recsys_engine.tuning.charts import (
        MIN_IMPORTANCE_TRIALS,
        best_so_far_figure,
        importance_figure,
        slice_figure,
    )

    def study(n: int, params: int = 2):
        s = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
        s.optimize(lambda t: sum(t.suggest_float(f"x{i}", 0, 1) for i in range(params)), n_trials=n)
        return s

    fig, note = importance_figure(study(0))
    assert fig is None and note == "No trial completed, so there is nothing to rank."
    assert slice_figure(study(0)) is None
    fig, note = importance_figure(study(MIN_IMPORTANCE_TRIALS - 1))
    assert fig is None and f"this study has {MIN_IMPORTANCE_TRIALS - 1}, too few" in note
    fig, note = importance_figure(study(MIN_IMPORTANCE_TRIALS, params=1))
    assert fig is None and "Only one setting was searched" in note
    fig, note = importance_figure(study(MIN_IMPORTANCE_TRIALS))
    assert {bar.orientation for bar in fig.data} == {"h"} and set(fig.data[0].y) == {"x0", "x1"}
    assert f"over {MIN_IMPORTANCE_TRIALS} completed trials" in note
    assert slice_figure(study(3)) is not None
    rows = [
        {
            "number": 0,
            "state": "complete",
            "params": {},
            "validation_ndcg@10": 0.2,
            "epochs": None,
            "best_epoch": None,
            "seconds": 1.0,
        },
        {
            "number": 1,
            "state": "pruned",
            "params": {},
            "validation_ndcg@10": 0.5,
            "epochs": 2,
            "best_epoch": None,
            "seconds": 1.0,
        },
        {
            "number": 2,
            "state": "complete",
            "params": {},
            "validation_ndcg@10": 0.3,
            "epochs": None,
            "best_epoch": None,
            "seconds": 1.0,
        },
    ]
    table = trials_table(rows)
    # a pruned trial's partial value never becomes the best so far
    assert table["Best so far"].tolist() == [0.2, 0.2, 0.3]
    names = [trace.name for trace in best_so_far_figure(table).data]
    assert names == ["complete", "pruned (last epoch reached)", "best so far"]
