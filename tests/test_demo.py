"""The demo dataset: deterministic generator, plausible shape, loading on first start."""

from __future__ import annotations

import hashlib
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from recsys_engine.demo import DEMO_FILES, DEMO_NAME, SAMPLE_DIR, ensure_demo, load_demo
from recsys_engine.errors import NotFoundError
from recsys_engine.store import Store


def _generator():
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generator's output in a fresh folder (run once for the module)."""
    out = tmp_path_factory.mktemp("demo")
    _generator().main(["--out", str(out)])
    return out


@pytest.fixture(scope="module")
def frames(generated):
    return {role: pd.read_csv(generated / name) for role, name in DEMO_FILES.items()}


@pytest.fixture(scope="module")
def demo_store():
    s = Store(":memory:")
    did = load_demo(s)
    yield s, did
    s.close()


def test_generator_output_matches_committed_files_byte_for_byte(generated):
    for name in DEMO_FILES.values():
        assert (generated / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), (
            f"{name} differs: rerun `.venv/bin/python sample_data/generate.py`"
        )


def test_generator_seed_changes_the_data(tmp_path, generated):
    _generator().main(["--out", str(tmp_path), "--seed", "7"])
    assert (tmp_path / "interactions.csv").read_bytes() != (
        generated / "interactions.csv"
    ).read_bytes()


def test_files_are_small(generated):
    total = sum((generated / name).stat().st_size for name in DEMO_FILES.values())
    assert total < 2_000_000


def test_counts_and_columns(frames):
    inter, items, users = frames["interactions"], frames["items"], frames["users"]
    assert list(inter.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert list(items.columns) == ["item_id", "title", "categories", "description"]
    assert list(users.columns) == ["user_id", "age_group", "country"]
    assert len(users) == 1000 and users["user_id"].is_unique
    assert len(items) == 800 and items["item_id"].is_unique
    assert 40_000 <= len(inter) <= 60_000
    assert not inter.duplicated(["user_id", "item_id"]).any()
    assert set(inter["user_id"]) <= set(users["user_id"])
    assert set(inter["item_id"]) <= set(items["item_id"])
    assert set(inter["rating"].unique()) == {1, 2, 3, 4, 5}


def test_timestamps_span_about_two_years(frames):
    ts = frames["interactions"]["timestamp"]
    first, last = pd.to_datetime(ts.min(), unit="s"), pd.to_datetime(ts.max(), unit="s")
    assert first >= pd.Timestamp("2023-01-01") and last <= pd.Timestamp("2025-01-01")
    assert (last - first).days > 600


def test_items_have_titles_genres_and_keywords(frames):
    items = frames["items"]
    assert items["title"].str.len().gt(0).all() and items["title"].is_unique
    cats = items["categories"].str.split("|")
    assert cats.map(len).between(1, 3).all()
    genres = {g for gs in cats for g in gs}
    assert len(genres) == 12
    assert items["description"].str.len().between(40, 200).all()
    horror = items[cats.str[0] == "Horror"]["description"].str.lower()
    assert horror.str.contains("haunted|ghost|curse|slasher|possession|demon").mean() > 0.8


def test_popularity_has_a_long_tail(frames):
    pop = np.sort(frames["interactions"]["item_id"].value_counts().to_numpy())[::-1]
    top10 = pop[: int(np.ceil(0.1 * pop.size))].sum() / pop.sum()
    assert 0.3 < top10 < 0.7
    assert pop[0] > 20 * np.median(pop[-50:])


def test_users_prefer_some_genres_and_rate_them_higher(frames):
    inter, items = frames["interactions"], frames["items"]
    main = items.set_index("item_id")["categories"].str.split("|").str[0]
    df = inter.assign(genre=inter["item_id"].map(main))
    per_user = df.groupby(["user_id", "genre"]).size()
    share = per_user / per_user.groupby(level=0).transform("sum")
    heavy = inter["user_id"].value_counts()
    heavy = heavy[heavy >= 30].index
    top_share = share.groupby(level=0).max().loc[heavy].mean()
    assert top_share > 1.3 * df["genre"].value_counts(normalize=True).max()
    fav = share.groupby(level=0).idxmax().map(lambda t: t[1])
    is_fav = df["genre"].to_numpy() == df["user_id"].map(fav).to_numpy()
    assert df["rating"][is_fav].mean() > df["rating"][~is_fav].mean() + 0.1


def test_load_demo_counts_and_types(demo_store):
    s, did = demo_store
    ds = s.get_dataset(did)
    n_rows = sum(1 for _ in open(SAMPLE_DIR / "interactions.csv")) - 1
    assert ds["name"] == DEMO_NAME
    assert ds["feedback"] == "explicit"
    assert (ds["rating_min"], ds["rating_max"]) == (1.0, 5.0)
    assert ds["n_interactions"] == n_rows
    assert ds["n_users"] == 1000
    assert ds["n_catalog_items"] == 800
    assert 700 <= ds["n_items"] < 800
    assert ds["has_timestamps"]
    roles = {src["role"]: src for src in ds["sources"]}
    assert set(roles) == {"interactions", "items", "users"}
    path = SAMPLE_DIR / "items.csv"
    assert roles["items"]["bytes"] == path.stat().st_size
    assert roles["items"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    items = s.items_frame(did)
    assert len(items) == 800
    first = items.iloc[0]
    assert isinstance(first["title"], str) and isinstance(first["text"], str)
    assert 1 <= len(first["categories"]) <= 3
    feats = json.loads(s.users_frame(did)["features"].iloc[0])
    assert set(feats) == {"age_group", "country"}
    arrays = s.interaction_arrays(did)
    assert arrays["ts"].min() >= 1_672_531_200  # 2023-01-01: seconds kept, no shift


def test_ensure_demo_loads_once(store):
    did = ensure_demo(store)
    assert did is not None
    assert ensure_demo(store) is None
    assert len(store.list_datasets()) == 1


def test_ensure_demo_leaves_existing_databases_alone(store):
    store.create_dataset_from_frames(
        "mine", pd.DataFrame({"user_id": ["a"], "item_id": ["x"], "rating": [1.0]})
    )
    assert ensure_demo(store) is None
    assert list(store.list_datasets()["name"]) == ["mine"]


def test_missing_files_name_the_file(store, tmp_path):
    with pytest.raises(NotFoundError, match="interactions.csv"):
        load_demo(store, folder=tmp_path)
    assert len(store.list_datasets()) == 0
