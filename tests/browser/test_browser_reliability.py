"""Crashes and concurrency through the real server (issue 8), in headless Debian chromium.

1. Two browser sessions each upload their own file through the Data page's file input,
   load it, split it and train a model on the Train page, all at the same time: both
   datasets and both runs come out right (checked in the database afterwards).
2. The Streamlit server is killed with SIGKILL in the middle of a browser upload's ingest,
   and again in the middle of a training run started from the browser; after each restart
   on the same database the browser shows the earlier datasets and runs intact, no partial
   dataset, and the killed run ``interrupted``. The database is checked afterwards too.

A failing journey leaves screenshots in ``test-artifacts/<test>[-n].png`` (see
``new_session``). Run only the browser journeys with ``pytest -m browser``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pytest
from browser_support import (
    DEMO,
    assert_no_exception,
    open_page,
    serve,
    serve_process,
    settle,
    shown_status,
    snap,
    status_line,
    table_rows,
)
from crash_support import RESULT_TABLES, kill, orphan_rows, result_rows
from test_browser_journey import choose
from test_browser_train import (  # noqa: F401  (browser: a fixture used by name)
    TRAIN_TIMEOUT_S,
    browser,
    choose_models,
    progress_of,
    start,
    train,
    wait_status,
)
from test_browser_train import new_session as new_session  # noqa: F401  (a fixture)

from recsys_engine.models import model_title
from recsys_engine.store import Store

pytestmark = pytest.mark.browser

LOAD_TIMEOUT_MS = 120_000  # a small load while the other session loads and trains
BIG_ROWS = 4_000_000  # ~100 MB: its ingest takes several seconds, time enough to kill it


POPULARITY, TWO_TOWER = model_title("popularity"), model_title("two_tower")  # as shown


# -- files --------------------------------------------------------------------------------
def ratings_csv(path: Path, n_users: int, n_items: int, per_user: int) -> tuple[Path, dict]:
    """A clean explicit-ratings CSV: every user rates ``per_user`` distinct items of
    ``n_items`` (all of which get used), 1–5 stars, unix seconds.

    Returns:
        the path and its expected counts (interactions, users, items).
    """
    lines = ["user_id,item_id,rating,timestamp"]
    for u in range(n_users):
        for j in range(per_user):
            item = (u + j) % n_items
            t = 1_600_000_000 + 3600 * (u * per_user + j)
            lines.append(f"u{u},i{item},{1 + (u * 7 + j) % 5},{t}")
    path.write_text("\n".join(lines) + "\n")
    counts = {"n_interactions": n_users * per_user, "n_users": n_users, "n_items": n_items}
    return path, counts


def big_csv(path: Path, n: int = BIG_ROWS) -> Path:
    """A clean ratings CSV of ``n`` distinct (user, item) pairs, written by DuckDB."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        "COPY (SELECT 'u' || (i // 50) AS user_id, "
        "'i' || ((i % 50) * 397 + (i // 50) % 397) AS item_id, "
        "1 + (i % 5) AS rating, 1600000000 + i AS timestamp FROM range(?) t(i)) "
        f"TO '{path}' (HEADER)",
        [n],
    )
    con.close()
    return path


# -- browser steps ------------------------------------------------------------------------
def choose_upload(pg, path: Path, name: str) -> None:
    """On the Data page: put ``path`` in the real file input, wait for the mapping, and
    name the dataset."""
    pg.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(path))
    pg.get_by_role("combobox", name="User id column", exact=True).first.wait_for(
        timeout=LOAD_TIMEOUT_MS
    )
    settle(pg)
    box = pg.get_by_role("textbox", name="Dataset name", exact=True)
    box.fill(name)
    box.press("Enter")
    settle(pg)
    assert box.input_value() == name
    assert pg.get_by_role("combobox", name="User id column", exact=True).input_value() == "user_id"
    assert pg.get_by_role("radio", name="explicit", exact=True).is_checked()
    assert_no_exception(pg)


def click_load(pg) -> None:
    pg.get_by_role("button", name="Validate and load", exact=True).click()


def wait_loaded(pg, name: str, counts: dict) -> None:
    """Wait for the success note of this session's load and check its counts."""
    note = pg.locator("[data-testid=stAlertContentSuccess]").filter(has_text=f"Loaded {name}:")
    note.wait_for(timeout=LOAD_TIMEOUT_MS)
    settle(pg)
    text = note.inner_text()
    assert (
        f"{counts['n_interactions']:,} interactions, {counts['n_users']:,} users, "
        f"{counts['n_items']:,} items" in text
    ), text
    active = pg.get_by_role("combobox", name="Active dataset", exact=True).input_value()
    assert active.startswith(name), active
    assert_no_exception(pg)


def click_create_split(pg) -> None:
    from playwright.sync_api import expect

    # the page may still be rerunning for a dataset just picked in the sidebar
    box = pg.get_by_role("combobox", name="Split", exact=True)
    expect(box).to_have_value("New split…", timeout=60_000)
    settle(pg)
    pg.get_by_role("button", name="Create split", exact=True).click()


def wait_split(pg) -> str:
    pg.get_by_role("heading", name="2 · Models", exact=True).wait_for()
    settle(pg)
    return pg.get_by_role("combobox", name="Split", exact=True).input_value()


def queued_id(pg) -> int:
    note = pg.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Queued run")
    note.wait_for()
    return int(re.search(r"Queued run (\d+)", note.inner_text()).group(1))


def home_tables(pg, server: str) -> tuple[list[dict], list[dict]]:
    """(datasets, recent runs) as the Home page lists them."""
    start(pg, server)
    assert_no_exception(pg)
    tables = pg.locator("[data-testid=stTable]")
    tables.nth(1).wait_for()
    return table_rows(tables.nth(0)), table_rows(tables.nth(1))


def db_size(db: Path) -> int:
    wal = db.with_name(db.name + ".wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


# -- 1. two sessions at once --------------------------------------------------------------
def test_two_sessions_upload_split_and_train_at_once(new_session, tmp_path: Path) -> None:
    files = {
        "Session A ratings": ratings_csv(tmp_path / "a_ratings.csv", 60, 25, 8),
        "Session B ratings": ratings_csv(tmp_path / "b_ratings.csv", 45, 18, 6),
    }
    folder = tmp_path / "server"
    folder.mkdir()
    run_ids: dict[str, int] = {}
    with serve(folder) as url:
        tabs = {name: new_session() for name in files}
        for name, pg in tabs.items():
            start(pg, url)
            open_page(pg, "Data")
            choose_upload(pg, files[name][0], name)
        for pg in tabs.values():  # back to back: both loads run at the same time
            click_load(pg)
        for name, pg in tabs.items():
            wait_loaded(pg, name, files[name][1])

        for pg in tabs.values():
            open_page(pg, "Train")
        for pg in tabs.values():
            click_create_split(pg)
        for pg in tabs.values():
            assert wait_split(pg).startswith("leave-last-1"), "the suggested split (timestamps)"
            choose_models(pg, "Default", [POPULARITY])
        for pg in tabs.values():
            pg.get_by_role("button", name="Train 1 model", exact=True).click()
        for name, pg in tabs.items():
            run_ids[name] = queued_id(pg)
        assert len(set(run_ids.values())) == 2, run_ids
        for name, pg in tabs.items():
            wait_status(pg, run_ids[name], "succeeded")
            # a session sees only the runs of its own dataset's split
            other = next(r for n, r in run_ids.items() if n != name)
            assert status_line(pg, other, r"\w+").count() == 0
            assert_no_exception(pg)
        snap(tabs["Session B ratings"], "two-sessions-trained")
        # each session's upload folder went away with its successful load
        assert list((folder / "db.uploads").glob("upload_*")) == []

    store = Store(folder / "db.duckdb", read_only=True)
    try:
        listing = store.list_datasets().set_index("name")
        assert sorted(listing.index) == sorted([DEMO, *files])
        for name, (_, counts) in files.items():
            row = listing.loc[name]
            assert {k: int(row[k]) for k in counts} == counts, name
            did = int(row["id"])
            got = (
                store.cursor()
                .execute(
                    "SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id) "
                    "FROM interactions WHERE dataset_id = ?",
                    [did],
                )
                .fetchall()[0]
            )
            assert got == tuple(counts.values()), name
            splits = store.list_splits(did)
            assert len(splits) == 1, splits
            run = store.get_run(run_ids[name])
            assert (run["status"], run["model"]) == ("succeeded", "popularity"), run
            assert (run["dataset_id"], run["split_id"]) == (did, int(splits.id.iloc[0]))
            assert all(result_rows(store, run_ids[name]).values()), name
        assert len(store.list_runs()) == 2
        assert orphan_rows(store) == {}
    finally:
        store.close()


# -- 2. SIGKILL of the server mid-ingest and mid-training ---------------------------------
@pytest.mark.slow
def test_server_killed_mid_ingest_and_mid_training_restarts_clean(
    new_session, tmp_path: Path
) -> None:
    small, small_counts = ratings_csv(tmp_path / "small.csv", 40, 20, 8)
    big = big_csv(tmp_path / "big.csv")
    folder = tmp_path / "server"
    folder.mkdir()
    db = folder / "db.duckdb"

    # First server: an earlier dataset and run, then a big upload killed mid-ingest.
    with serve_process(folder) as (url, proc):
        pg = new_session()
        start(pg, url)
        open_page(pg, "Data")
        choose_upload(pg, small, "small upload")
        click_load(pg)
        wait_loaded(pg, "small upload", small_counts)
        open_page(pg, "Train")
        click_create_split(pg)
        wait_split(pg)
        choose_models(pg, "Default", [POPULARITY])
        (done_run,) = train(pg, 1)
        wait_status(pg, done_run, "succeeded")

        open_page(pg, "Data")
        choose_upload(pg, big, "big upload")
        base = db_size(db)
        click_load(pg)
        pg.locator("[data-testid=stProgress]").first.wait_for()
        deadline = time.monotonic() + 60
        # the load's uncommitted blocks are in the file: it is well under way
        while db_size(db) < base + 1_000_000:
            assert proc.poll() is None, "the server died by itself"
            assert time.monotonic() < deadline, "the load never started writing"
            loaded = pg.locator("[data-testid=stAlertContentSuccess]").filter(
                has_text="Loaded big upload"
            )
            assert loaded.count() == 0, "the big load finished before the kill: raise BIG_ROWS"
            time.sleep(0.05)
        kill(proc)
    # the killed load's uploaded file is still on disk, until the next server starts
    assert [len(list(d.iterdir())) for d in (folder / "db.uploads").iterdir()] == [1]

    # Second server on the same file: no trace of the big upload; then a training run
    # started from the browser is killed.
    with serve_process(folder) as (url, proc):
        pg = new_session()
        datasets, runs = home_tables(pg, url)
        assert [d["name"] for d in datasets] == ["small upload", DEMO], datasets  # newest first
        small_row = datasets[0]
        assert (small_row["users"], small_row["items"], small_row["interactions"]) == (
            "40",
            "20",
            "320",
        ), small_row
        assert [(r["id"], r["model"], r["status"]) for r in runs] == [
            (str(done_run), POPULARITY, "succeeded")
        ], runs
        snap(pg, "restart-after-ingest-kill")
        assert list((folder / "db.uploads").iterdir()) == [], "leftover uploads are cleared"

        open_page(pg, "Train")
        pick = pg.get_by_role("combobox", name="Active dataset", exact=True)
        assert pick.input_value().startswith("small upload"), "new sessions start on the newest"
        assert wait_split(pg).startswith("leave-last-1"), "the earlier split is chosen"
        caption = pg.get_by_text("1 run on this split: 1 succeeded.", exact=True)
        caption.wait_for()  # and its run is listed under it
        # a long run: a thorough two-tower on the demo data (1,000 users)
        choose(pg, "Active dataset", DEMO)
        click_create_split(pg)
        wait_split(pg)
        choose_models(pg, "Thorough", [TWO_TOWER])
        (killed_run,) = train(pg, 1)
        wait_status(pg, killed_run, "running", timeout_s=TRAIN_TIMEOUT_S)
        deadline = time.monotonic() + TRAIN_TIMEOUT_S
        while True:  # kill it while it is fitting, past its first steps
            reading = progress_of(pg, killed_run)
            step = re.match(r"fit: ([\d,]+)/", reading[0]) if reading else None
            if step and int(step.group(1).replace(",", "")) > 0:
                break
            assert shown_status(pg, killed_run) in ("running", None), "the run ended early"
            assert time.monotonic() < deadline, "no fit progress"
            pg.wait_for_timeout(300)
        kill(proc)

    # Third server: the killed run is interrupted, everything else as it was.
    with serve_process(folder) as (url, proc):
        pg = new_session()
        datasets, runs = home_tables(pg, url)
        assert [d["name"] for d in datasets] == ["small upload", DEMO], datasets
        assert datasets[0] == small_row
        assert [(r["id"], r["model"], r["status"]) for r in runs] == [
            (str(killed_run), TWO_TOWER, "interrupted"),
            (str(done_run), POPULARITY, "succeeded"),
        ], runs
        choose(pg, "Active dataset", DEMO)
        open_page(pg, "Train")
        status_line(pg, killed_run, "interrupted").wait_for()
        assert_no_exception(pg)
        snap(pg, "restart-after-training-kill")

    store = Store(db, read_only=True)
    try:
        listing = store.list_datasets().set_index("name")
        assert sorted(listing.index) == [DEMO, "small upload"]
        row = listing.loc["small upload"]
        assert {k: int(row[k]) for k in small_counts} == small_counts
        count = store.cursor().execute("SELECT count(*) FROM interactions").fetchall()[0][0]
        assert count == int(listing.n_interactions.sum()), "rows of a dataset that is not listed"
        assert orphan_rows(store) == {}
        run = store.get_run(killed_run)
        assert run["status"] == "interrupted" and run["error"], run
        assert run["artefact_path"] is None
        assert result_rows(store, killed_run) == dict.fromkeys(RESULT_TABLES, 0)
        assert store.get_run(done_run)["status"] == "succeeded"
        assert store.get_run(killed_run)["dataset_id"] == int(listing.loc[DEMO, "id"])
        assert all(result_rows(store, done_run).values())
    finally:
        store.close()
