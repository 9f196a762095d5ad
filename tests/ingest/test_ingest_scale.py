"""Ten million distinct ids (issue 8): the ingest either loads them with the right counts or
fails with a clear message, in bounded memory and without crashing.

The load runs in a child process through the CLI's own entry point, so a crash (segfault,
out-of-memory kill) shows up as an exit code instead of taking pytest down, and the child
reports its own peak resident memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from recsys_engine.store import Store

REPO = Path(__file__).resolve().parents[2]
N_IDS = 10_000_000
#: Peak RSS seen here is ~1.3 GiB; the machine has 24 GiB. A leak or a Python-side copy of
#: the id columns would blow through this.
RSS_LIMIT_GIB = 4.0

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from recsys_engine import cli

    code = cli.main(sys.argv[1:])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps({"code": code, "peak_gib": peak}), flush=True)
    """
)


def distinct_ids_csv(path: Path, n: int = N_IDS) -> Path:
    """``n`` rows, every user id and every item id distinct (item = a permutation of the
    users: 7919 is prime and coprime with 10**7), written by DuckDB in a few seconds."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        "COPY (SELECT 'user-' || i AS user_id, 'item-' || ((i * 7919) % ?) AS item_id, "
        "1 + (i % 5) AS rating, 1600000000 + i AS timestamp FROM range(?) t(i)) "
        f"TO '{path}' (HEADER)",
        [n, n],
    )
    con.close()
    return path


@pytest.mark.slow
def test_ten_million_distinct_user_and_item_ids_load_in_bounded_memory(tmp_path):
    big = distinct_ids_csv(tmp_path / "ten_million.csv")
    db = tmp_path / "scale.duckdb"
    args = ["--db", str(db), "ingest", "--json", "--name", "ten million", "--interactions"]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args, str(big)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"the ingest crashed ({done.returncode}):\n{done.stderr}"
    *out, last = done.stdout.strip().splitlines()
    report = json.loads(last)
    assert report["code"] == 0, done.stderr
    assert report["peak_gib"] < RSS_LIMIT_GIB, f"peak memory {report['peak_gib']:.2f} GiB"
    result = json.loads("\n".join(out))
    expected = {"n_interactions": N_IDS, "n_users": N_IDS, "n_items": N_IDS}
    assert {k: result[k] for k in expected} == expected
    assert result["warnings"] == []

    store = Store(db, read_only=True)
    try:
        listing = store.list_datasets()
        assert listing.name.tolist() == ["ten million"]
        assert listing.iloc[0][list(expected)].tolist() == [N_IDS] * 3
        rows = (
            store.cursor()
            .execute(
                "SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id), "
                "min(rating), max(rating), count(ts) FROM interactions WHERE dataset_id = ?",
                [result["dataset_id"]],
            )
            .fetchall()
        )
        assert rows == [(N_IDS, N_IDS, N_IDS, 1.0, 5.0, N_IDS)]
        # one spot check that ids were kept verbatim and paired correctly
        row = (
            store.cursor()
            .execute(
                "SELECT item_id, rating FROM interactions WHERE dataset_id = ? AND user_id = ?",
                [result["dataset_id"], "user-9999999"],
            )
            .fetchall()
        )
        assert row == [(f"item-{(9_999_999 * 7919) % N_IDS}", 1.0 + 9_999_999 % 5)]
    finally:
        store.close()
