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
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from crash_support import reap, result_rows
from test_crash import child_env, cli_cmd, frame

from recsys_engine.cli import main as cli_main
from recsys_engine.errors import DatabaseLockedError, RecsysError
from recsys_engine.runs import run_model
from recsys_engine.store import Store
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
            time.sleep(0.01)

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
