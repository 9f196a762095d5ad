"""One database for the app and the CLI at the same time (issue 17).

A file-backed ``Store`` holds the DuckDB file only for a unit of work (a method call, a
``transaction()`` or ``unit()`` block) and retries briefly when another process holds it.
The in-process tests check the bookkeeping (when the file is open, nested calls reuse the
connection, an upload's staging keeps it); the two-process tests run the real CLI in a
subprocess while this process keeps using its store the way the app server does, and kill
either side with SIGKILL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from crash_support import RESULT_TABLES, kill, orphan_rows, reap, result_rows
from test_crash import child_env, cli_cmd, frame

from recsys_engine.cli import main as cli_main
from recsys_engine.errors import DatabaseLockedError, RecsysError
from recsys_engine.runs import queue_run, run_model
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store
from recsys_engine.store.connection import close_lingering_files
from recsys_engine.store.readers import StageSource

REPO = Path(__file__).resolve().parents[2]

#: A process that opens the file with DuckDB itself, says so, and holds it until stdin
#: closes (or for the number of seconds given as argv[2]).
HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("held", flush=True)
    if len(sys.argv) > 2:
        time.sleep(float(sys.argv[2]))
    else:
        sys.stdin.read()
    con.close()
    print("released", flush=True)
    """
)


def hold(db: Path, seconds: float | None = None) -> subprocess.Popen:
    """Start a HOLDER child and wait until it has the file."""
    args = [sys.executable, "-c", HOLDER, str(db)] + ([] if seconds is None else [str(seconds)])
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held", proc.stderr.read()
    return proc


def toy_csv(folder: Path) -> Path:
    path = folder / "toy.csv"
    df = frame()
    df.assign(ts=df["ts"].astype("int64") // 10**9).to_csv(path, index=False)
    return path


# -- in one process ----------------------------------------------------------------------
def test_file_store_holds_the_file_only_during_a_call(tmp_path):
    store = Store(tmp_path / "a.duckdb")
    try:
        assert not store.holds_file()  # the migration's unit is over
        opens = store.opens
        did = store.create_dataset_from_frames("toy", frame())
        assert not store.holds_file()
        assert store.opens == opens + 1  # one transaction, one open
        store.list_datasets()
        store.get_dataset(did)
        assert store.opens == opens + 3
        with store.unit():  # several calls, one open; nested calls reuse it
            store.list_datasets()
            store.get_dataset(did)
            with store.transaction():
                store.set_dataset_warnings(did, ["checked"])
            assert store.holds_file()
        assert store.opens == opens + 4
        assert not store.holds_file()
        assert store.get_dataset(did)["warnings"] == ["checked"]
    finally:
        store.close()


def test_a_failed_transaction_rolls_back_and_releases(tmp_path):
    store = Store(tmp_path / "a.duckdb")
    try:
        with pytest.raises(ZeroDivisionError), store.transaction():
            store.set_meta("k", "v")
            raise ZeroDivisionError
        assert not store.holds_file()
        assert store.get_meta("k") is None
    finally:
        store.close()


def test_threads_share_one_open_and_the_last_one_closes(tmp_path):
    store = Store(tmp_path / "a.duckdb")
    inside, leave = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with store.unit():
                store.list_datasets()
                inside.set()
                leave.wait(30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=worker)
    try:
        opens = store.opens
        t.start()
        assert inside.wait(30)
        store.list_runs()  # another thread while the worker holds the file: no new open
        assert store.opens == opens + 1
        assert store.holds_file()
        leave.set()
        t.join(30)
        assert not store.holds_file()
        assert errors == []
    finally:
        leave.set()
        store.close()


def test_staging_keeps_the_file_until_the_stage_is_dropped(tmp_path):
    store = Store(tmp_path / "a.duckdb")
    try:
        csv = toy_csv(tmp_path)
        src = StageSource(
            path=str(csv),
            kind="csv",
            columns=("user_id", "item_id", "rating", "ts"),
            user_col="user_id",
            item_col="item_id",
        )
        staged = store.stage_interactions(src)
        assert store.holds_file()
        assert store.stage_counts(staged.table, [], None)["rows"] == len(frame())
        store.drop_stage(staged.table)
        assert not store.holds_file()
    finally:
        store.close()


def test_memory_store_keeps_its_connection(store):
    did = store.create_dataset_from_frames("toy", frame())
    assert store.holds_file()
    assert store.opens == 1
    assert store.get_dataset(did)["name"] == "toy"


def test_a_closed_store_says_so(tmp_path):
    store = Store(tmp_path / "a.duckdb")
    store.close()
    with pytest.raises(RecsysError, match="was closed"):
        store.list_datasets()


def test_bad_lock_timeout_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB_LOCK_TIMEOUT", "soon")
    with pytest.raises(RecsysError, match="RECSYS_DB_LOCK_TIMEOUT.*'soon'"):
        Store(tmp_path / "a.duckdb")
    with pytest.raises(RecsysError, match="lock_timeout must be 0 or more"):
        Store(tmp_path / "a.duckdb", lock_timeout=-1)


def test_linger_shares_one_open_between_calls_then_lets_go(tmp_path):
    store = Store(tmp_path / "a.duckdb", linger=0.2)
    try:
        wait_for(lambda: not store.holds_file(), "the end of the migration's linger", 30)
        opens = store.opens
        for _ in range(5):  # one page render's queries
            store.list_datasets()
            store.list_runs()
        assert store.opens == opens + 1
        wait_for(lambda: not store.holds_file(), "the end of the linger", timeout=30)
        store.list_datasets()
        assert store.opens == opens + 2
    finally:
        store.close()


def test_linger_is_skipped_while_another_process_waits(tmp_path):
    db = tmp_path / "a.duckdb"
    store = Store(db, linger=60)
    try:
        store.list_datasets()
        assert store.holds_file()  # lingering
        store._waiting_marker.write_text("999999999")  # what a waiting CLI leaves
        store.list_datasets()
        assert not store.holds_file()  # released at once for the waiter
    finally:
        store.close()


def test_linger_keeps_one_closer_thread_and_lets_an_idle_file_go_to_a_waiter(tmp_path):
    """Many calls start one closer thread (not one timer each), and a file left open by
    the linger is released within a moment when another process starts waiting, not at
    the end of the linger."""
    store = Store(tmp_path / "a.duckdb", linger=60)
    try:
        for _ in range(20):  # a few page renders' queries
            store.list_datasets()
            store.list_runs()
        closers = [t for t in threading.enumerate() if t.name == "store-linger"]
        assert len(closers) == 1
        assert store.holds_file()  # idle, lingering
        store._waiting_marker.write_text("999999999")  # what a waiting CLI leaves
        wait_for(lambda: not store.holds_file(), "the idle file let go for a waiter", 30)
        wait_for(lambda: not closers[0].is_alive(), "the closer thread's end", 30)
    finally:
        store.close()


def test_exit_hook_closes_lingering_files_and_ends_their_closer_threads(tmp_path):
    """What runs at interpreter exit: a closer thread still lingering would otherwise be
    inside DuckDB's close when the interpreter finalises, and the process aborts."""
    store = Store(tmp_path / "a.duckdb", linger=60)
    try:
        store.list_datasets()
        closers = [t for t in threading.enumerate() if t.name == "store-linger"]
        assert store.holds_file() and len(closers) == 1 and closers[0].is_alive()
        close_lingering_files()
        assert not store.holds_file() and not closers[0].is_alive()
        assert store.list_datasets().empty  # still usable: the next call opens it again
        assert store.holds_file()
    finally:
        store.close()


def test_exit_hook_waits_for_a_closer_already_inside_duckdbs_close(tmp_path):
    """The closer takes the file and closes it outside the store's lock; the exit hook
    must wait for that close to end too (it returned at once, and the interpreter
    finalised under the thread: an abort at exit after every test had passed)."""
    store = Store(tmp_path / "a.duckdb", linger=60)
    try:
        store.list_datasets()
        real = store._db
        entered, finished = threading.Event(), threading.Event()

        class SlowClose:  # the open file, closing slowly
            def close(self) -> None:
                entered.set()
                time.sleep(0.5)
                real.close()
                finished.set()

        with store._lock:
            store._db = SlowClose()
            store._linger_until = time.monotonic()  # due now
            store._lock.notify_all()
        assert entered.wait(10), "the closer did not start closing"
        close_lingering_files()
        assert finished.is_set()  # the hook returned only once the close was over
        assert not store._closing
    finally:
        store.close()


# -- two processes: contention -----------------------------------------------------------
def test_lock_held_too_long_gives_a_one_line_error_naming_the_process(tmp_path):
    db = tmp_path / "a.duckdb"
    Store(db).close()
    proc = hold(db)
    try:
        with pytest.raises(DatabaseLockedError) as info:
            Store(db, lock_timeout=0.3)
        text = str(info.value)
        assert f"process {proc.pid}" in text and "more than 0.3 s" in text
        assert "\n" not in text
    finally:
        proc.stdin.close()
        proc.wait(10)
        reap(proc)


def test_cli_waits_for_a_short_hold_and_reports_a_long_one(tmp_path, monkeypatch, capsys):
    db = tmp_path / "a.duckdb"
    Store(db).close()
    proc = hold(db, seconds=0.5)  # lets go by itself: the CLI's retry gets in
    try:
        assert cli_main(["--db", str(db), "datasets", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"datasets": []}
    finally:
        proc.wait(10)
        reap(proc)
    proc = hold(db)
    monkeypatch.setenv("RECSYS_DB_LOCK_TIMEOUT", "0.2")
    try:
        assert cli_main(["--db", str(db), "datasets"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"process {proc.pid}" in err
    finally:
        proc.stdin.close()
        proc.wait(10)
        reap(proc)


def test_a_busy_app_does_not_starve_the_cli(tmp_path):
    """Two threads query the app's store a few ms apart with a linger, so without the
    CLI's waiting marker the file would never be free; the app lets go and the CLI gets in
    (twice: a second command finds the app holding the file again)."""
    db = tmp_path / "shared.duckdb"
    did, _, _ = seeded_db(db)
    app = Store(db, linger=0.25)
    stop = threading.Event()
    errors: list[BaseException] = []

    def renders() -> None:
        while not stop.is_set():
            try:
                app.list_runs()
                app.get_dataset(did)
            except BaseException as exc:  # pragma: no cover - asserted below
                errors.append(exc)
            time.sleep(0.005)  # leave the CPU to the CLI (2 cores here)

    threads = [threading.Thread(target=renders) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(2):
            wait_for(app.holds_file, "the app holding the file", timeout=30)
            done = subprocess.run(
                cli_cmd(db, "runs", "--json"),
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
                env={**child_env(), "RECSYS_DB_LOCK_TIMEOUT": "20"},
            )
            assert done.returncode == 0, done.stderr
            assert len(json.loads(done.stdout)["runs"]) == 1
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        app.close()
    assert errors == []
    assert not Path(str(db) + ".waiting").exists()


def test_cli_ingest_split_train_while_this_process_keeps_reading(tmp_path):
    """The app's store stays in use (a reader thread, like page renders) while the CLI
    ingests, splits and trains in another process; the app then sees all of it."""
    db = tmp_path / "shared.duckdb"
    app = Store(db)
    stop = threading.Event()
    reads, errors = [0], []

    def renders() -> None:
        while not stop.is_set():
            try:
                app.list_datasets()
                app.list_runs()
                reads[0] += 1
            except BaseException as exc:  # pragma: no cover - asserted below
                errors.append(exc)
            time.sleep(0.05)

    t = threading.Thread(target=renders)
    t.start()
    try:
        csv = toy_csv(tmp_path)
        steps = [
            ["ingest", "--json", "--name", "from-cli", "--interactions", str(csv)],
            ["split", "--json", "from-cli", "--seed", "1", "--name", "s1"],
            ["train", "--json", "from-cli", "--split", "s1", "--model", "popularity"],
        ]
        out = []
        for step in steps:
            done = subprocess.run(
                cli_cmd(db, *step),
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=180,
                env=child_env(),
            )
            assert done.returncode == 0, done.stderr
            out.append(json.loads(done.stdout))
    finally:
        stop.set()
        t.join(30)
    try:
        assert errors == []
        assert reads[0] > 0
        datasets = app.list_datasets()
        assert list(datasets["name"]) == ["from-cli"]
        assert int(datasets["n_interactions"].iloc[0]) == len(frame())
        assert list(app.list_splits()["name"]) == ["s1"]
        runs = app.list_runs()
        assert list(runs["status"]) == ["succeeded"]
        run_id = out[2]["run_id"]
        assert all(result_rows(app, run_id).values())
        # and the app can write next to it: a run of its own on the CLI's split
        split_id = int(app.list_splits()["id"].iloc[0])
        assert app.get_run(run_model(app, split_id, "popularity"))["status"] == "succeeded"
    finally:
        app.close()


# -- runs owned by another live process ------------------------------------------------
def test_server_start_leaves_runs_of_a_live_cli_alone(tmp_path):
    """A server starting while a CLI trains on the same file must not mark the CLI's run
    interrupted; runs of a process that is gone still are."""
    db = tmp_path / "a.duckdb"
    store = Store(db)
    did = store.create_dataset_from_frames("toy", frame())
    split = create_split(store, did, SplitConfig(seed=1))
    alive = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        live_run = store.create_run(did, split, "ease", {}, status="running")
        dead_run = store.create_run(did, split, "ease", {}, status="running")
        mine = store.create_run(did, split, "ease", {})
        host = socket.gethostname()
        cur = store.cursor()
        cur.execute("UPDATE runs SET owner = ? WHERE id = ?", [f"{host}:{alive.pid}", live_run])
        cur.execute(
            "UPDATE runs SET owner = ? WHERE id = ?", [f"{host}:{gone.stdout.strip()}", dead_run]
        )
        assert store.mark_unfinished_runs_interrupted() == 2
        assert store.get_run(live_run)["status"] == "running"
        assert store.get_run(dead_run)["status"] == "interrupted"
        assert store.get_run(mine)["status"] == "interrupted"
    finally:
        alive.stdin.close()
        alive.wait(10)
        store.close()


def test_a_run_records_the_process_that_trains_it(tmp_path):
    store = Store(tmp_path / "a.duckdb")
    try:
        did = store.create_dataset_from_frames("toy", frame())
        split = create_split(store, did, SplitConfig(seed=1))
        rid = store.create_run(did, split, "ease", {})
        owner = store.cursor().execute("SELECT owner FROM runs WHERE id = ?", [rid]).fetchall()
        assert owner == [(f"{socket.gethostname()}:{os.getpid()}",)]
        assert "owner" not in store.get_run(rid)  # the run's public row is unchanged
    finally:
        store.close()


# -- two processes, long training and SIGKILL (slow: TensorFlow) -------------------------
def wait_for(check, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.1)


def seeded_db(db: Path) -> tuple[int, int, int]:
    """A dataset, a split and a finished Popularity run; returns their ids."""
    store = Store(db)
    try:
        did = store.create_dataset_from_frames("toy", frame())
        split = create_split(store, did, SplitConfig(seed=1), name="s1")
        return did, split, run_model(store, split, "popularity")
    finally:
        store.close()


LONG = {"epochs": 10_000, "patience": 0, "dim": 8}


@pytest.mark.slow
def test_cli_works_during_a_long_training_in_the_app(tmp_path):
    from recsys_engine.jobs import JobRunner

    db = tmp_path / "shared.duckdb"
    did, split, _ = seeded_db(db)
    app = Store(db)
    runner = JobRunner(app)
    try:
        rid = queue_run(app, split, "two_tower", LONG)
        runner.submit(rid)
        wait_for(lambda: len(app.run_progress(rid)) >= 2, "two epochs of the app's training")
        listing = subprocess.run(
            cli_cmd(db, "runs", "--json"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env=child_env(),
        )
        assert listing.returncode == 0, listing.stderr
        status = {r["run_id"]: r["status"] for r in json.loads(listing.stdout)["runs"]}
        assert status[rid] == "running"
        trained = subprocess.run(
            cli_cmd(db, "train", "--json", "toy", "--split", "s1", "--model", "popularity"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
            env=child_env(),
        )
        assert trained.returncode == 0, trained.stderr
        cli_run = json.loads(trained.stdout)["run_id"]
        assert app.get_run(rid)["status"] == "running"  # still training
        assert app.get_run(cli_run)["status"] == "succeeded"
        runner.cancel(rid)
        wait_for(lambda: app.get_run(rid)["status"] == "cancelled", "the cancel")
    finally:
        runner.shutdown()
        app.close()


KILLABLE_APP = textwrap.dedent(
    """
    import sys, time
    from recsys_engine.jobs import JobRunner
    from recsys_engine.runs import queue_run
    from recsys_engine.store import Store

    store = Store(sys.argv[1])
    runner = JobRunner(store)
    rid = queue_run(store, int(sys.argv[2]), "two_tower",
                    {"epochs": 10_000, "patience": 0, "dim": 8})
    runner.submit(rid)
    print(rid, flush=True)
    while True:
        store.list_runs(); store.list_datasets()  # page renders
        time.sleep(0.05)
    """
)


@pytest.mark.slow
def test_sigkill_of_the_app_during_a_cli_train_loses_nothing(tmp_path):
    """The app (another process, rendering and training) is killed while the CLI trains;
    the CLI's run finishes, the app's run is interrupted at the next start, nothing of
    what either side committed is lost."""
    db = tmp_path / "shared.duckdb"
    did, split, done_run = seeded_db(db)
    probe = Store(db)
    app = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_APP, str(db), str(split)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    cli = None
    try:
        line = app.stdout.readline()
        assert line.strip().isdigit(), app.stderr.read()
        app_run = int(line)
        wait_for(lambda: len(probe.run_progress(app_run)) >= 2, "the app's training")
        cli = subprocess.Popen(
            cli_cmd(db, "train", "--json", "toy", "--split", "s1", "--model", "itemknn"),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            text=True,
        )
        wait_for(lambda: len(probe.list_runs()) >= 3, "the CLI's run row")
        kill(app)
        out, err = cli.communicate(timeout=180)
        assert cli.returncode == 0, err
        cli_run = json.loads(out)["run_id"]
    finally:
        reap(app)
        if cli is not None:
            reap(cli)
    try:
        assert probe.get_run(cli_run)["status"] == "succeeded"
        assert all(result_rows(probe, cli_run).values())
        assert probe.get_run(done_run)["status"] == "succeeded"
        assert all(result_rows(probe, done_run).values())
        assert probe.get_run(app_run)["status"] == "running"  # what the kill left
        assert probe.mark_unfinished_runs_interrupted() == 1  # the next server start
        assert probe.get_run(app_run)["status"] == "interrupted"
        assert result_rows(probe, app_run) == dict.fromkeys(RESULT_TABLES, 0)
        assert orphan_rows(probe) == {}
    finally:
        probe.close()


@pytest.mark.slow
def test_sigkill_of_the_cli_during_training_loses_nothing_in_the_app(tmp_path):
    db = tmp_path / "shared.duckdb"
    did, split, done_run = seeded_db(db)
    app = Store(db)
    before = app.run_metrics(done_run)
    cli = subprocess.Popen(
        cli_cmd(
            db,
            "train",
            "toy",
            "--split",
            "s1",
            "--model",
            "two_tower",
            "--config",
            json.dumps(LONG),
        ),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    try:
        wait_for(lambda: len(app.list_runs()) == 2, "the CLI's run row")
        cli_run = int(app.list_runs()["id"].iloc[0])
        wait_for(lambda: len(app.run_progress(cli_run)) >= 2, "the CLI's training")
        # the app keeps working while the CLI trains: a run of its own
        mine = run_model(app, split, "popularity")
        kill(cli)
    finally:
        reap(cli)
    try:
        assert app.get_run(mine)["status"] == "succeeded"
        assert all(result_rows(app, mine).values())
        pd.testing.assert_frame_equal(app.run_metrics(done_run), before)
        assert result_rows(app, cli_run) == dict.fromkeys(RESULT_TABLES, 0)
        assert app.mark_unfinished_runs_interrupted() == 1  # the CLI is gone
        assert app.get_run(cli_run)["status"] == "interrupted"
        assert orphan_rows(app) == {}
    finally:
        app.close()
