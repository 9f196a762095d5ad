"""The real datasets in ../shared/data load with the counts their README files verify.

Each folder is loaded once per module through the library (``guess_plan`` on every file of
the folder, so the presets must also ignore the extra files) and once through the CLI.
Tests skip when a folder is absent.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from badfiles import leftovers
from conftest import shared_dataset

from recsys_engine import cli
from recsys_engine.ingest import LoadResult, guess_plan, load_dataset
from recsys_engine.store import Store

#: Loading real files takes seconds; still part of the full suite.
pytestmark = pytest.mark.slow

#: folder -> (interactions, users, rated items, catalog items), from each README.
COUNTS = {
    "ml-100k": (100_000, 943, 1_682, 1_682),
    "ml-latest-small": (100_836, 610, 9_724, 9_742),
    "hetrec2011-lastfm-2k": (92_834, 1_892, 17_632, 17_632),
    "amazon-musical-instruments-5core": (10_261, 1_429, 900, 900),
}


def load_folder(folder: str) -> tuple[Store, LoadResult]:
    path = shared_dataset(folder)
    store = Store(":memory:")
    plan = guess_plan(sorted(p for p in path.iterdir() if p.is_file()), store=store)
    return store, load_dataset(store, plan)


@pytest.fixture(scope="module")
def loaded():
    """Each dataset loaded at most once for the module: {folder: (store, result)}."""
    cache: dict[str, tuple[Store, LoadResult]] = {}

    def get(folder: str) -> tuple[Store, LoadResult]:
        if folder not in cache:
            cache[folder] = load_folder(folder)
        return cache[folder]

    yield get
    for store, _ in cache.values():
        store.close()


@pytest.mark.parametrize("folder", list(COUNTS))
def test_counts_match_the_readme(loaded, folder):
    store, result = loaded(folder)
    counts = (result.n_interactions, result.n_users, result.n_items, result.n_catalog_items)
    assert counts == COUNTS[folder]
    row = store.get_dataset(result.dataset_id)
    assert (row["n_interactions"], row["n_users"], row["n_items"]) == COUNTS[folder][:3]
    assert leftovers(store) == []


def test_ml100k_ratings_times_items_and_users(loaded):
    store, result = loaded("ml-100k")
    ds = store.get_dataset(result.dataset_id)
    assert (result.name, ds["feedback"], ds["rating_min"], ds["rating_max"]) == (
        "MovieLens 100K",
        "explicit",
        1.0,
        5.0,
    )
    assert sorted(s["file"] for s in ds["sources"]) == ["u.data", "u.item", "u.user"]
    cur = store.cursor()
    dist = dict(
        cur.execute(
            "SELECT rating, count(*) FROM interactions WHERE dataset_id = ? GROUP BY rating",
            [result.dataset_id],
        ).fetchall()
    )
    assert dist == {1.0: 6110, 2.0: 11370, 3.0: 27145, 4.0: 34174, 5.0: 21201}
    lo, hi = cur.execute(
        "SELECT min(epoch(ts)), max(epoch(ts)) FROM interactions WHERE dataset_id = ?",
        [result.dataset_id],
    ).fetchall()[0]
    assert (lo, hi) == (874724710, 893286638)

    items = store.items_frame(result.dataset_id).set_index("item_id")
    assert len(items) == 1682
    assert items.loc["1", "title"] == "Toy Story (1995)"
    assert list(items.loc["1", "categories"]) == ["Animation", "Children's", "Comedy"]
    assert items.loc["1633", "title"] == "\xc1 k\xf6ldum klaka (Cold Fever) (1994)"  # latin-1
    assert items.loc["267", "title"] == "unknown"

    users = store.users_frame(result.dataset_id).set_index("user_id")
    assert len(users) == 943
    assert json.loads(users.loc["1", "features"]) == {
        "age": 24.0,
        "gender": "M",
        "occupation": "technician",
    }
    assert result.warnings == [
        "u.item, line 543: not valid UTF-8; read as latin-1 (pick "
        "another encoding if characters look wrong)"
    ]


def test_ml_latest_small_half_stars_genres_and_tags(loaded):
    store, result = loaded("ml-latest-small")
    ds = store.get_dataset(result.dataset_id)
    assert (ds["feedback"], ds["rating_min"], ds["rating_max"]) == ("explicit", 0.5, 5.0)
    assert sorted(s["file"] for s in ds["sources"]) == ["movies.csv", "ratings.csv", "tags.csv"]
    items = store.items_frame(result.dataset_id).set_index("item_id")
    assert len(items) == 9742
    assert items.loc["1", "title"] == "Toy Story (1995)"
    assert list(items.loc["1", "categories"]) == [
        "Adventure",
        "Animation",
        "Children",
        "Comedy",
        "Fantasy",
    ]
    assert items.loc["60756", "title"] == "Step Brothers (2008)"
    text = items.loc["60756", "text"]  # user tags from tags.csv, lower-cased
    assert "funny" in text and "will ferrell" in text and "highly quotable" in text
    ts = store.interactions_frame(result.dataset_id).ts
    assert ts.min() >= pd.Timestamp("1996-03-29") and ts.max() < pd.Timestamp("2018-09-25")
    assert result.warnings == []


def test_lastfm_play_counts_artists_and_tags(loaded):
    store, result = loaded("hetrec2011-lastfm-2k")
    ds = store.get_dataset(result.dataset_id)
    assert (result.name, ds["feedback"], ds["rating_min"]) == (
        "Last.fm HetRec 2K",
        "implicit",
        None,
    )
    assert not ds["has_timestamps"]
    df = store.interactions_frame(result.dataset_id)
    assert df.rating.isna().all()
    assert (df.weight.min(), df.weight.max()) == (1.0, 352698.0)
    items = store.items_frame(result.dataset_id).set_index("item_id")
    assert items.loc["52", "title"] == "Morcheeba"
    assert {"chillout", "downtempo"} <= set(items.loc["52", "text"].split())
    assert items.text.str.contains("tropic\xe1lia", regex=False).any()  # latin-1 tags.dat


def test_amazon_reviews_ratings_and_days(loaded):
    store, result = loaded("amazon-musical-instruments-5core")
    ds = store.get_dataset(result.dataset_id)
    assert (ds["feedback"], ds["rating_min"], ds["rating_max"]) == ("explicit", 1.0, 5.0)
    df = store.interactions_frame(result.dataset_id)
    assert df.rating.value_counts().to_dict() == {
        5.0: 6938,
        4.0: 2084,
        3.0: 772,
        2.0: 250,
        1.0: 217,
    }
    assert (df.ts.min(), df.ts.max()) == (pd.Timestamp("2004-09-18"), pd.Timestamp("2014-07-22"))
    assert result.warnings == []


# -- the same through the CLI -------------------------------------------------------------
def ingest(db: str, capsys, *args: str) -> dict:
    """Run ``ingest --json`` in-process; ``:memory:`` spares the disk writes."""
    code = cli.main(["--db", db, "ingest", "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize(
    ("folder", "fmt"),
    [
        ("ml-100k", "movielens-100k"),
        ("ml-latest-small", "movielens"),
        ("hetrec2011-lastfm-2k", "hetrec-lastfm"),
    ],
)
def test_cli_format(capsys, folder, fmt):
    path = shared_dataset(folder)
    doc = ingest(":memory:", capsys, "--name", folder, "--format", fmt, str(path))
    assert (doc["n_interactions"], doc["n_users"], doc["n_items"]) == COUNTS[folder][:3]
    assert doc["n_catalog_items"] == COUNTS[folder][3]
    assert doc["name"] == folder and isinstance(doc["dataset_id"], int)
    assert isinstance(doc["warnings"], list)


def test_cli_interactions_file(capsys):
    path = shared_dataset("amazon-musical-instruments-5core") / "Musical_instruments_reviews.csv"
    doc = ingest(":memory:", capsys, "--name", "amazon", "--interactions", str(path))
    assert (doc["n_interactions"], doc["n_users"], doc["n_items"]) == (10_261, 1_429, 900)
    assert doc["warnings"] == []


def test_cli_interactions_with_items_file(tmp_path, capsys):
    folder = shared_dataset("ml-latest-small")
    doc = ingest(
        str(tmp_path / "cli.duckdb"),
        capsys,
        "--name",
        "mls",
        "--interactions",
        str(folder / "ratings.csv"),
        "--items",
        str(folder / "movies.csv"),
    )
    assert (
        doc["n_interactions"],
        doc["n_users"],
        doc["n_items"],
        doc["n_catalog_items"],
    ) == COUNTS["ml-latest-small"]
    store = Store(tmp_path / "cli.duckdb", read_only=True)
    try:
        items = store.items_frame(doc["dataset_id"]).set_index("item_id")
        assert items.loc["1", "title"] == "Toy Story (1995)"
        assert "Animation" in list(items.loc["1", "categories"])
    finally:
        store.close()
