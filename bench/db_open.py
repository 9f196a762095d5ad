"""Cost of opening the DuckDB file per unit of work, next to a connection kept open.

Since issue 17 a file-backed ``Store`` opens the file for each unit of work (one method
call, a ``transaction()`` or a ``unit()`` block) and closes it after, so the app server and
the CLI can share the file. This measures what that costs on what a page render reads:

1. open/close — ``duckdb.connect`` + ``close`` of the file alone;
2. per call — the reads of a Home render (datasets, runs) and of a run card (a run, its
   metrics and progress), each call its own unit: the file is opened once per call;
3. kept open — the same calls inside one ``store.unit()`` (what the old store did: one
   open for the life of the process);
4. one unit per render — the same calls, one ``unit()`` per simulated render;
5. linger (the app) — each call its own unit on a store made as the app makes it
   (``linger=APP_LINGER``): the file stays open between the calls of a render.

The database is the demo dataset with a few Popularity runs, in a temporary folder.
Medians over ``--repeat`` renders; the ratio is per call ÷ kept open.

    .venv/bin/python bench/db_open.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recsys_engine.demo import load_demo  # noqa: E402
from recsys_engine.runs import run_model  # noqa: E402
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402

APP_LINGER = 0.25  # ui.resources.APP_LINGER (the bench does not import Streamlit)


def render(store: Store, run_id: int) -> None:
    """The store reads of a Home page and one run card."""
    store.list_datasets()
    store.list_runs()
    store.get_run(run_id)
    store.run_metrics(run_id)
    store.run_progress(run_id)
    store.list_splits()


def timed(fn: Callable[[], None], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f} ms (p95 {_p95(values) * 1000:.2f})"


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="renders per variant")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        store = Store(db)
        did = load_demo(store)
        split = create_split(store, did, SplitConfig(seed=0))
        run_id = 0
        for _ in range(3):
            run_id = run_model(store, split, "popularity")
        size = db.stat().st_size / 2**20
        n_calls = 6

        def open_close() -> None:
            duckdb.connect(str(db)).close()

        raw = timed(open_close, args.repeat)
        opens_before = store.opens
        per_call = timed(lambda: render(store, run_id), args.repeat)
        opens = store.opens - opens_before
        with store.unit():
            kept = timed(lambda: render(store, run_id), args.repeat)

        def one_unit() -> None:
            with store.unit():
                render(store, run_id)

        per_render = timed(one_unit, args.repeat)
        store.close()

        app = Store(db, linger=APP_LINGER)
        opens_before = app.opens
        lingered = timed(lambda: render(app, run_id), args.repeat)
        linger_opens = app.opens - opens_before
        app.close()

    base = statistics.median(kept)
    print(
        f"database: demo dataset + 3 runs, {size:.1f} MiB; {args.repeat} renders of "
        f"{n_calls} store calls each"
    )
    print(f"open+close of the file alone       {ms(raw)}")
    print(f"kept open (old store)              {ms(kept)} per render")
    print(
        f"one open per call (new store)      {ms(per_call)} per render "
        f"({opens / args.repeat:.0f} opens per render), "
        f"ratio {statistics.median(per_call) / base:.2f}x"
    )
    print(
        f"one unit() per render              {ms(per_render)} per render, "
        f"ratio {statistics.median(per_render) / base:.2f}x"
    )
    print(
        f"linger {APP_LINGER} s (the app)          {ms(lingered)} per render "
        f"({linger_opens} opens in all), ratio {statistics.median(lingered) / base:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
