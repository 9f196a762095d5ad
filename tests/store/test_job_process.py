"""The app's runs train in a child process (``recsys_engine.job_process``): results reach the
shared database, the child is niced, cancel stops it, a killed child fails its run with
the exit status, and a killed server leaves its run ``interrupted``, not ``running``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from crash_support import RESULT_TABLES, kill, orphan_rows, reap, result_rows
from test_crash import child_env
from test_shared_db import LONG, seeded_db, wait_for

from recsys_engine.job_process import CHILD_NICE, SERVER_GONE, execute_in_child
from recsys_engine.jobs import JobRunner
from recsys_engine.runs import queue_run
from recsys_engine.store import Store

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def owner_pid(store: Store, run_id: int) -> int:
    """The pid recorded as the run's owner (``host:pid``) once it is running."""
    with store.unit():  # a bare cursor() would hold the file for the child's lifetime
        owner = store.cursor().execute("SELECT owner FROM runs WHERE id = ?", [run_id]).fetchone()
    return int(owner[0].rpartition(":")[2])


@pytest.fixture
def shared(tmp_path, monkeypatch):
    for key, value in child_env().items():
        monkeypatch.setenv(key, value)
    db = tmp_path / "shared.duckdb"
    _, split, _ = seeded_db(db)
    store = Store(db)
    runner = JobRunner(store, execute=execute_in_child)
    yield store, split, runner
    runner.shutdown()
    store.close()


@pytest.mark.slow
def test_a_run_trained_in_a_niced_child_writes_its_results(shared):
    store, split, runner = shared
    rid = queue_run(store, split, "two_tower", {"epochs": 3, "patience": 0, "dim": 8})
    runner.submit(rid)
    wait_for(lambda: store.get_run(rid)["status"] == "running", "the start")
    child = owner_pid(store, rid)
    assert child != os.getpid()
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICE)
    try:
        assert os.getpriority(os.PRIO_PROCESS, child) == expected
    except ProcessLookupError:  # finished already: nothing left to look at
        pass
    wait_for(lambda: store.get_run(rid)["status"] not in ("queued", "running"), "the end")
    run = store.get_run(rid)
    assert run["status"] == "succeeded", run["error"]
    assert all(result_rows(store, rid).values())
    assert len(store.run_progress(rid)) >= 3  # the child's progress rows
    wait_for(lambda: runner.running() == [], "the worker to see the exit")


@pytest.mark.slow
def test_cancel_stops_the_child(shared):
    store, split, runner = shared
    rid = queue_run(store, split, "two_tower", LONG)
    runner.submit(rid)
    wait_for(lambda: len(store.run_progress(rid)) >= 2, "two epochs")
    child = owner_pid(store, rid)
    runner.cancel(rid)
    wait_for(lambda: store.get_run(rid)["status"] == "cancelled", "the cancel")
    wait_for(lambda: not _alive(child), "the child's exit")
    assert result_rows(store, rid) == dict.fromkeys(RESULT_TABLES, 0)


@pytest.mark.slow
def test_a_killed_child_fails_its_run_with_the_exit_status(shared):
    store, split, runner = shared
    rid = queue_run(store, split, "two_tower", LONG)
    runner.submit(rid)
    wait_for(lambda: len(store.run_progress(rid)) >= 2, "two epochs")
    os.kill(owner_pid(store, rid), signal.SIGKILL)
    wait_for(lambda: store.get_run(rid)["status"] == "failed", "the failure")
    assert f"exit status {-signal.SIGKILL}" in store.get_run(rid)["error"]
    assert result_rows(store, rid) == dict.fromkeys(RESULT_TABLES, 0)
    assert orphan_rows(store) == {}


SERVER = textwrap.dedent(
    """
    import sys, time
    from recsys_engine.job_process import execute_in_child
    from recsys_engine.jobs import JobRunner
    from recsys_engine.runs import queue_run
    from recsys_engine.store import Store

    store = Store(sys.argv[1])
    runner = JobRunner(store, execute=execute_in_child)
    rid = queue_run(store, int(sys.argv[2]), "two_tower",
                    {"epochs": 10_000, "patience": 0, "dim": 8})
    runner.submit(rid)
    print(rid, flush=True)
    while True:
        time.sleep(0.1)
    """
)


@pytest.mark.slow
def test_a_killed_server_leaves_its_run_interrupted(tmp_path):
    db = tmp_path / "shared.duckdb"
    _, split, _ = seeded_db(db)
    probe = Store(db)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(db), str(split)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    try:
        line = server.stdout.readline()
        assert line.strip().isdigit(), server.stderr.read()
        rid = int(line)
        wait_for(lambda: len(probe.run_progress(rid)) >= 2, "the server's training")
        child = owner_pid(probe, rid)
        kill(server)
        # the child notices, stops and records what a server restart would have
        wait_for(lambda: probe.get_run(rid)["status"] == "interrupted", "the interruption")
        wait_for(lambda: not _alive(child), "the child's exit")
        assert probe.get_run(rid)["error"] == SERVER_GONE
        assert probe.mark_unfinished_runs_interrupted() == 0
        assert result_rows(probe, rid) == dict.fromkeys(RESULT_TABLES, 0)
    finally:
        reap(server)
        probe.close()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
