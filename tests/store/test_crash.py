"""Crashes (DESIGN §9, issue 8): SIGKILL a real process in the middle of a load or a
training run, then reopen the database as the restarted server would.

Nothing half-written may be visible afterwards: the datasets are exactly those committed
before the crash, no data rows belong to a dataset that does not exist, an interrupted run
is marked ``interrupted`` (by ``mark_unfinished_runs_interrupted``, as at server start) and
has no result rows, and earlier datasets and runs are unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from badfiles import db_state, good_csv
from crash_support import RESULT_TABLES, kill, orphan_rows, reap, result_rows

from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store
from recsys_engine.store.schema import DDL

REPO = Path(__file__).resolve().parents[2]
N_BIG = 3_000_000
DATA_TABLES = ("datasets", "interactions", "items", "users", "splits", "split_rows")


# -- helpers ------------------------------------------------------------------------------
def big_csv(path: Path, n: int = N_BIG) -> Path:
    """A clean ratings CSV of ``n`` distinct (user, item) pairs (~75 MB), written by DuckDB
    in about a second."""
    duckdb.connect().execute(
        "COPY (SELECT 'u' || (i // 50) AS user_id, "
        "'i' || ((i % 50) * 397 + (i // 50) % 397) AS item_id, "
        "1 + (i % 5) AS rating, 1600000000 + i AS timestamp FROM range(?) t(i)) "
        f"TO '{path}' (HEADER)",
        [n],
    )
    return path


def cli_cmd(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "recsys_engine", "--db", str(db), *args]


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERAS_BACKEND": "tensorflow",
    }


def state(store: Store) -> dict:
    """``db_state`` with NaN as None, so that equal states compare equal."""
    out = db_state(store)
    cur = store.cursor()
    for t in ("splits", "split_rows"):
        out[f"rows in {t}"] = cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
    out["listing"] = [
        {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        for row in out["listing"]
    ]
    return out


def schema_tables() -> set[str]:
    return {
        stmt.split("EXISTS", 1)[1].split()[0]
        for stmt in DDL
        if stmt.startswith("CREATE TABLE IF NOT EXISTS")
    }


def persistent_tables(store: Store) -> set[str]:
    rows = (
        store.cursor()
        .execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary")
        .fetchall()
    )
    return {r[0] for r in rows}


def frame(n_users: int = 40, n_items: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for j, i in enumerate(rng.choice(n_items, size=int(rng.integers(6, 15)), replace=False)):
            ts = pd.Timestamp("2021-01-01") + pd.Timedelta(hours=u * 100 + j)
            rows.append((f"u{u}", f"i{i}", float(rng.integers(1, 6)), ts))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "ts"])


# -- (a) SIGKILL in the middle of a CLI ingest --------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("when", ["writing", "early"])
def test_sigkill_during_ingest_leaves_no_trace(tmp_path, when):
    db = tmp_path / "db" / "crash.duckdb"
    small = good_csv(tmp_path)
    done = subprocess.run(
        cli_cmd(db, "ingest", "--name", "small", "--interactions", str(small)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    store = Store(db)
    before = state(store)
    store.close()
    assert [d["name"] for d in before["listing"]] == ["small"]
    base_size = db.stat().st_size
    big = big_csv(tmp_path / "big.csv")

    proc = subprocess.Popen(
        cli_cmd(db, "ingest", "--name", "big", "--interactions", str(big)),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    try:
        start = time.monotonic()
        if when == "early":  # somewhere in imports, sniffing or validation
            time.sleep(0.8)
        else:  # the load's uncommitted blocks are already in the file
            while db.stat().st_size < base_size + 1_000_000:
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() - start < 30, "the load never started writing"
                time.sleep(0.05)
        kill(proc)
    finally:
        reap(proc)

    store = Store(db)  # opens (replays or discards the WAL)
    try:
        assert state(store) == before
        assert orphan_rows(store) == {}
        assert persistent_tables(store) == schema_tables()
        assert store.cursor().execute("SELECT count(*) FROM interactions").fetchall()[0][0] == 6
    finally:
        store.close()

    # a new load works (the killed one again, once: it takes a few seconds)
    again = big if when == "writing" else small
    done = subprocess.run(
        cli_cmd(db, "ingest", "--json", "--name", "big", "--interactions", str(again)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n_interactions"] == (N_BIG if again == big else 6)
    store = Store(db, read_only=True)
    try:
        assert sorted(store.list_datasets()["name"]) == ["big", "small"]
        assert orphan_rows(store) == {}
    finally:
        store.close()


# -- (b) SIGKILL in the middle of training ------------------------------------------------
TRAIN_CHILD = textwrap.dedent(
    """
    import sys
    from recsys_engine.runs import execute_run
    from recsys_engine.store import Store

    store = Store(sys.argv[1])
    def progress(done, total, info):
        print("progress", done, total, flush=True)
    execute_run(store, int(sys.argv[2]), on_progress=progress)
    print("finished", flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_during_training_marks_the_run_interrupted(tmp_path):
    from recsys_engine.runs import queue_run

    db = tmp_path / "db" / "train.duckdb"
    store = Store(db)
    did = store.create_dataset_from_frames("toy", frame())
    split = create_split(store, did, SplitConfig(seed=1))
    done_run = run_model(store, split, "popularity")
    slow_run = queue_run(store, split, "two_tower", {"epochs": 10_000, "patience": 0, "dim": 8})
    before = state(store)
    done_before = store.get_run(done_run)
    results_before = result_rows(store, done_run)
    metrics_before = store.run_metrics(done_run)
    store.close()
    assert done_before["status"] == "succeeded"
    assert all(results_before.values())

    proc = subprocess.Popen(
        [sys.executable, "-c", TRAIN_CHILD, str(db), str(slow_run)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    try:
        # the child holds the file lock, so it tells us how far it got on stdout
        seen = []
        deadline = time.monotonic() + 60
        while len(seen) < 3:
            line = proc.stdout.readline()
            assert line, f"the child stopped:\n{proc.communicate()[1]}"
            assert time.monotonic() < deadline, "no training progress within 60 s"
            if line.startswith("progress"):
                seen.append(line)
        kill(proc)
    finally:
        reap(proc)

    store = Store(db)
    try:
        assert store.get_run(slow_run)["status"] == "running"  # what the crash left
        assert store.mark_unfinished_runs_interrupted() == 1  # what a server start does
        run = store.get_run(slow_run)
        assert run["status"] == "interrupted"
        assert run["finished_at"] is not None and run["error"]
        assert run["artefact_path"] is None
        assert result_rows(store, slow_run) == dict.fromkeys(RESULT_TABLES, 0)
        # earlier work is intact
        after = state(store)
        assert after["listing"] == before["listing"]
        for t in DATA_TABLES:
            assert after[f"rows in {t}"] == before[f"rows in {t}"]
        assert store.get_run(done_run) == done_before
        assert result_rows(store, done_run) == results_before
        pd.testing.assert_frame_equal(store.run_metrics(done_run), metrics_before)
        assert orphan_rows(store) == {}
        assert not (db.parent / "artefacts" / f"run_{slow_run}").exists()
        # and the database still takes new work
        assert store.get_run(run_model(store, split, "popularity"))["status"] == "succeeded"
    finally:
        store.close()
