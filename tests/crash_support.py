"""Helpers shared by the crash tests (tests/store) and the browser reliability test: kill a
child process, and count rows a crash could have left behind."""

from __future__ import annotations

import os
import signal
import subprocess

from recsys_engine.store import Store

RESULT_TABLES = ("metrics", "user_metrics", "recommendations")


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL a child that must still be running, and reap it."""
    assert proc.poll() is None, f"the child finished before the kill (code {proc.returncode})"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def reap(proc: subprocess.Popen) -> None:
    """Make sure a child is gone and its pipes are closed (also when the test failed)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()


def orphan_rows(store: Store) -> dict[str, int]:
    """Rows whose owner (dataset, split or run) does not exist, per table."""
    cur = store.cursor()
    checks = {
        **{
            t: f"SELECT count(*) FROM {t} WHERE dataset_id NOT IN (SELECT id FROM datasets)"
            for t in ("interactions", "items", "users", "splits", "runs")
        },
        "split_rows": "SELECT count(*) FROM split_rows WHERE split_id NOT IN "
        "(SELECT id FROM splits)",
        **{
            t: f"SELECT count(*) FROM {t} WHERE run_id NOT IN (SELECT id FROM runs)"
            for t in ("run_progress", *RESULT_TABLES)
        },
    }
    return {t: n for t, sql in checks.items() if (n := cur.execute(sql).fetchall()[0][0])}


def result_rows(store: Store, run_id: int) -> dict[str, int]:
    """Rows of each result table that belong to ``run_id``."""
    cur = store.cursor()
    return {
        t: cur.execute(f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]).fetchall()[0][0]
        for t in RESULT_TABLES
    }
