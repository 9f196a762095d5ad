"""Unix times load as the same UTC wall time whatever the machine's time zone.

DuckDB's ``to_timestamp(x)::TIMESTAMP`` converts through the session's time zone (the
machine's), so the same file used to load as other times in Berlin than in London. The
load runs in a child process with ``TZ`` set, through both the single-pass load (a clean
file) and the staged path (duplicates merged), which must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from dataclasses import replace
    from recsys_engine.ingest import guess_plan, load_dataset
    from recsys_engine.store import Store

    store = Store(":memory:")
    out = {}
    for duplicates in ("reject", "keep-last"):
        plan = guess_plan([Path(sys.argv[1])], name=duplicates)
        plan = replace(plan, options=replace(plan.options, duplicates=duplicates))
        did = load_dataset(store, plan).dataset_id
        rows = store.cursor().execute(
            "SELECT user_id, item_id, strftime(ts, '%Y-%m-%d %H:%M:%S.%f') FROM interactions "
            "WHERE dataset_id = ? ORDER BY user_id, item_id",
            [did],
        ).fetchall()
        out[duplicates] = [list(r) for r in rows]
    zone = store.cursor().execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    print(json.dumps({"zone": zone, **out}))
    """
)


def test_unix_seconds_load_as_utc_in_any_time_zone(tmp_path):
    path = tmp_path / "r.csv"
    # 1510328153.7 s = 2017-11-10 15:35:53.7 UTC (16:35 in Berlin); -1.5 s = 1969-12-31
    # 23:59:58.5 UTC
    path.write_text("user_id,item_id,rating,timestamp\n1,10,4,1510328153.7\n2,11,3,-1.5\n")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=REPO,
        env={**os.environ, "TZ": "Europe/Berlin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["zone"] == "Europe/Berlin"  # the test means something only off UTC
    expected = [
        ["1", "10", "2017-11-10 15:35:53.700000"],
        ["2", "11", "1969-12-31 23:59:58.500000"],
    ]
    assert report["reject"] == expected  # single-pass load
    assert report["keep-last"] == expected  # staged path
