"""The app and the command line on one database at the same time (issue 17).

With the Streamlit server running on a database file:

1. the CLI ingests a file, splits it and trains a model on that same file, and the browser
   then shows the CLI's dataset and run on Home;
2. while a run started from the browser trains, CLI commands (a read and a whole training)
   succeed, and both runs end ``succeeded`` and show up on either side.

Run only the browser journeys with ``pytest -m browser``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import REPO, assert_no_exception, open_page, serve, snap, table_rows
from test_browser_train import (  # noqa: F401  (fixtures used by name)
    browser,
    choose_models,
    ensure_split,
    new_session,
    page,
    start,
    train,
    wait_status,
)

from recsys_engine.models import model_title
from recsys_engine.store import Store

pytestmark = pytest.mark.browser

CLI_TIMEOUT_S = 240  # a CLI command may wait for the server's hold, and trains on 2 cores


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """A server on ``folder/db.duckdb``; yields (url, database path)."""
    folder = tmp_path_factory.mktemp("shared_db")
    with serve(folder) as url:
        yield url, folder / "db.duckdb"


def cli(db: Path, *args: str) -> dict:
    """Run ``python -m recsys_engine --db DB ARGS --json`` and return its JSON output."""
    proc = subprocess.run(
        [sys.executable, "-m", "recsys_engine", "--db", str(db), *args, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return json.loads(proc.stdout)


def clicks_csv(path: Path) -> Path:
    """A small implicit log: 40 users, 30 items, each user clicks 8 items."""
    lines = ["user_id,item_id,timestamp"]
    for u in range(40):
        for j in range(8):
            lines.append(f"cu{u},ci{(u * 3 + j) % 30},{1_700_000_000 + 60 * (u * 8 + j)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def home_rows(pg, heading: str) -> list[dict[str, str]]:
    """Rows of the table under a Home sub-heading."""
    block = pg.locator("[data-testid=stHeading]").filter(has_text=heading)
    return table_rows(block.locator("xpath=following::div[@data-testid='stTable'][1]"))


def test_cli_ingests_splits_and_trains_while_the_server_runs(served, page, tmp_path) -> None:  # noqa: F811
    url, db = served
    start(page, url)  # the server has opened (and made) the database: the demo is in it
    csv = clicks_csv(tmp_path / "c.csv")
    dataset = cli(db, "ingest", "--name", "from-cli", "--interactions", str(csv))["dataset_id"]
    split = cli(db, "split", "from-cli", "--strategy", "random", "--seed", "1")["split_id"]
    run = cli(db, "train", "from-cli", "--split", str(split), "--model", "popularity")["run_id"]
    page.reload()
    start(page, url)
    datasets = home_rows(page, "Datasets")
    assert any("from-cli" in " ".join(r.values()) for r in datasets), datasets
    runs = home_rows(page, "Recent runs")
    mine = [r for r in runs if r["id"] == str(run)]
    assert mine and "from-cli" in " ".join(mine[0].values()), runs
    assert "succeeded" in " ".join(mine[0].values())
    assert_no_exception(page)
    snap(page, "shared-db-home")
    store = Store(db, read_only=True)
    assert store.get_dataset(dataset)["name"] == "from-cli"
    store.close()


def test_cli_works_during_a_training_started_in_the_browser(served, page, tmp_path) -> None:  # noqa: F811
    url, db = served
    start(page, url)
    csv = clicks_csv(tmp_path / "c.csv")
    cli(db, "ingest", "--name", "cli-during", "--interactions", str(csv))
    split = cli(db, "split", "cli-during", "--strategy", "random", "--seed", "2")["split_id"]
    open_page(page, "Train")
    ensure_split(page)
    choose_models(page, "Thorough", [model_title("two_tower")])
    (app_run,) = train(page, 1)
    wait_status(page, app_run, "running", timeout_s=60)
    # while the app trains: a read, then a whole training on another dataset
    assert cli(db, "datasets")["datasets"]
    store = Store(db, read_only=True)
    assert store.get_run(app_run)["status"] == "running"  # the read came during training
    store.close()
    cli_run = cli(db, "train", "cli-during", "--split", str(split), "--model", "itemknn")["run_id"]
    store = Store(db, read_only=True)
    assert store.get_run(app_run)["status"] in ("running", "succeeded")
    assert store.get_run(cli_run)["status"] == "succeeded"
    store.close()
    wait_status(page, app_run, "succeeded", timeout_s=600)
    start(page, url)
    runs = " ".join(" ".join(r.values()) for r in home_rows(page, "Recent runs"))
    assert str(cli_run) in runs and str(app_run) in runs, runs
    assert_no_exception(page)
