"""Dataset profile: hand-checked numbers on tiny datasets, warnings, chart builders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from recsys_engine.errors import NotFoundError
from recsys_engine.profile import (
    charts,
    duplicates_from_warnings,
    gini,
    profile_dataset,
    top_share,
)

# u1 rates five items, u2 two, u3 one, u4 three: 11 interactions on i1..i5.
TINY = [
    ("u1", "i1", 5, "2024-01-03"),
    ("u1", "i2", 4, "2024-01-04"),
    ("u1", "i3", 3, "2024-01-05"),
    ("u1", "i4", 4, "2024-01-06"),
    ("u1", "i5", 2, "2024-01-07"),
    ("u2", "i1", 4, "2024-01-10"),
    ("u2", "i2", 5, "2024-01-31 23:59:59"),
    ("u3", "i1", 3, "2024-03-01"),
    ("u4", "i1", 5, "2024-03-02"),
    ("u4", "i2", 4, "2024-03-03"),
    ("u4", "i3", 4, "2024-03-04"),
]


def _frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "ts"])
    df["rating"] = df["rating"].astype(float)
    df["ts"] = pd.to_datetime(df["ts"], format="ISO8601")
    return df


@pytest.fixture
def tiny(store):
    items = pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(1, 7)],  # i6 has no interactions
            "title": [f"<b>title {k}</b>" for k in range(1, 7)],
            "categories": [["Drama"]] * 6,
        }
    )
    users = pd.DataFrame(
        {"user_id": ["u1", "u2", "u3", "u4", "u5"], "features": ['{"age": "18-24"}'] * 5}
    )
    did = store.create_dataset_from_frames(
        "<script>alert(1)</script>",
        _frame(TINY),
        items,
        users,
        feedback="explicit",
        rating_scale=(1, 5),
    )
    return profile_dataset(store, did)


def test_counts_density_and_shares_by_hand(tiny):
    p = tiny
    assert (p.n_interactions, p.n_users, p.n_items, p.n_pairs) == (11, 4, 5, 11)
    assert p.n_catalog_items == 6
    assert p.density == pytest.approx(11 / 20)
    # popularity i1..i5 = 4, 3, 2, 1, 1; the top 1% and 10% of 5 items are one item
    assert list(p.item_popularity) == [4, 3, 2, 1, 1]
    assert p.top1_share == pytest.approx(4 / 11)
    assert p.top10_share == pytest.approx(4 / 11)
    # sum |xi - xj| over ordered pairs = 32; 2 n^2 mean = 110
    assert p.gini == pytest.approx(32 / 110)
    assert sorted(p.user_activity) == [1, 2, 3, 5]
    assert p.light_user_share == pytest.approx(3 / 4)
    assert p.activity_median == 2.5 and p.activity_mean == 2.75 and p.activity_max == 5
    assert p.popularity_median == 2.0


def test_ratings_time_and_catalogue_by_hand(tiny):
    p = tiny
    assert p.rating_scale == (1.0, 5.0)
    assert (p.n_ratings, p.n_rating_values) == (11, 4)
    assert p.rating_mean == pytest.approx(43 / 11)
    assert (p.rating_min, p.rating_max) == (2.0, 5.0)
    rc = p.rating_counts
    assert list(rc["rating"]) == [2.0, 3.0, 4.0, 5.0]
    assert list(rc["count"]) == [1, 2, 5, 3]
    assert (rc["width"] == 0).all()
    assert list(p.monthly["month"]) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01")]
    assert list(p.monthly["interactions"]) == [7, 4]
    assert list(p.monthly["users"]) == [2, 2]
    assert p.n_timestamps == 11
    assert p.time_span_days == pytest.approx(61.0)
    assert (p.n_item_rows, p.cold_items, p.items_without_metadata) == (6, 1, 0)
    assert (p.n_user_rows, p.cold_users, p.users_without_features) == (5, 1, 0)
    assert p.duplicate_rows == 0 and p.duplicates_removed is None
    assert p.load_warnings == []


def test_warnings_on_the_tiny_dataset(tiny):
    text = "\n".join(tiny.warnings)
    assert "small dataset (4 users, 5 items)" in text
    assert "75% of users have fewer than 5 interactions" in text
    assert "1 item in the item file has no interactions (cold-start items)" in text
    assert "1 user in the user file has no interactions" in text
    assert "sparse" not in text and "timestamps" not in text and "top 1%" not in text


def test_summary_is_json_safe(tiny):
    out = json.loads(json.dumps(tiny.summary()))
    assert out["interactions"] == 11
    assert out["first_interaction"] == "2024-01-03T00:00:00"
    assert out["warnings"] == tiny.warnings


def test_same_ratings_no_timestamps_duplicates(store):
    inter = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c"],
            "item_id": ["x", "x", "y", "x"],
            "rating": [3.0, 3.0, 3.0, 3.0],
        }
    )
    did = store.create_dataset_from_frames(
        "flat",
        inter,
        feedback="explicit",
        rating_scale=(1, 5),
        warnings=["removed 7 duplicate rows (kept the last)", "3 rows had empty ids"],
    )
    p = profile_dataset(store, did)
    assert p.duplicate_rows == 1
    assert p.duplicates_removed == 7
    assert p.load_warnings == ["removed 7 duplicate rows (kept the last)", "3 rows had empty ids"]
    text = "\n".join(p.warnings)
    assert "ratings are all the same value (3)" in text
    assert "no timestamps: temporal splits unavailable" in p.warnings
    assert "1 interaction row repeats a (user, item) pair" in text
    assert p.monthly.empty and p.ts_min is None and p.time_span_days is None
    assert p.cold_items == 0 and p.n_item_rows == 0
    figs = charts.profile_figures(p)
    assert len(figs["monthly"].data) == 0  # an empty chart that says why


def test_messy_ratings_times_and_item_file(store):
    inter = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c"],
            "item_id": ["x", "y", "y", "z"],
            "rating": [7.0, None, 2.0, 4.0],
            "ts": pd.to_datetime([0, 1_700_000_000, None, 1_700_000_100], unit="s"),
        }
    )
    items = pd.DataFrame({"item_id": ["x", "y"], "title": ["X", "Y"]})
    did = store.create_dataset_from_frames("m", inter, items, rating_scale=(1, 5))
    p = profile_dataset(store, did)
    assert (p.n_ratings, p.n_timestamps, p.items_without_metadata) == (3, 3, 1)
    text = "\n".join(p.warnings)
    assert "1 interaction has no rating" in text
    assert "ratings run from 2 to 7, outside the declared scale 1–5" in text
    assert "1 interaction (25%) has no timestamp" in text
    assert "earliest timestamp is 1970-01-01" in text
    assert "1 interacted item is missing from the item file" in text


def test_sparse_and_concentrated_warnings(store):
    # 1,200 users, each on their own item: density 1/1200 < 0.1%.
    sparse = pd.DataFrame(
        {"user_id": [f"u{k}" for k in range(1200)], "item_id": [f"i{k}" for k in range(1200)]}
    )
    p = profile_dataset(store, store.create_dataset_from_frames("s", sparse, feedback="implicit"))
    assert p.density == pytest.approx(1 / 1200)
    assert any(w.startswith("very sparse: 0.08% of user–item pairs") for w in p.warnings)
    assert p.n_ratings == 0 and p.rating_counts.empty
    assert len(charts.rating_figure(p.rating_counts).data) == 0
    # 200 items: items 0 and 1 (the top 1%) get 100 interactions each, 198 others one each.
    users = [f"u{k}" for k in range(100)] * 2 + [f"u{k}" for k in range(2, 200)]
    items = ["i0"] * 100 + ["i1"] * 100 + [f"i{k}" for k in range(2, 200)]
    heavy = pd.DataFrame({"user_id": users, "item_id": items})
    p = profile_dataset(store, store.create_dataset_from_frames("h", heavy, feedback="implicit"))
    assert p.top1_share == pytest.approx(200 / 398)
    assert "top 1% of items take 50% of interactions" in "\n".join(p.warnings)


def test_binned_ratings(store):
    rng = np.random.default_rng(0)
    n = 300
    inter = pd.DataFrame(
        {
            "user_id": [f"u{k}" for k in range(n)],
            "item_id": ["x"] * n,
            "rating": np.round(rng.uniform(0, 10, n), 3),
        }
    )
    did = store.create_dataset_from_frames("c", inter, rating_scale=(0, 10))
    rc = store.rating_counts(did)
    assert len(rc) == 20 and rc["count"].sum() == n
    assert (rc["width"] > 0).all()
    assert rc["rating"].is_monotonic_increasing
    fig = charts.rating_figure(rc, (0, 10))
    assert len(fig.data) == 1


def test_helpers():
    assert top_share(np.array([1, 1, 1, 1]), 0.5) == 0.5
    assert top_share(np.array([]), 0.1) == 0.0
    assert top_share(np.arange(1, 31), 0.1) == pytest.approx((30 + 29 + 28) / 465)  # 3 items
    assert gini(np.array([5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 8])) == pytest.approx(3 / 4)
    assert duplicates_from_warnings(["nothing here"]) is None
    assert duplicates_from_warnings(["1,234 duplicate rows summed", "Duplicates: 6"]) == 1240


def test_unknown_dataset(store):
    with pytest.raises(NotFoundError):
        profile_dataset(store, 99)


def test_chart_builders(tiny):
    figs = charts.profile_figures(tiny)
    assert {k: len(f.data) for k, f in figs.items()} == {
        "long_tail": 3,  # per item, cumulative share, top 1% / 10% marks
        "user_activity": 1,
        "ratings": 1,
        "monthly": 2,
    }
    for fig in figs.values():
        assert isinstance(fig, go.Figure)
        assert fig.layout.template.layout.paper_bgcolor is not None  # plotly_white applied
        assert fig.layout.title.text
        # user text (the dataset name, item titles) never reaches a figure
        assert "<script>" not in fig.to_json() and "<b>" not in fig.to_json()
    activity = figs["user_activity"].data[0]
    assert list(activity.x) == ["1", "2", "3–4", "5–9"]
    assert list(activity.y) == [1, 1, 1, 1]
    tail = figs["long_tail"].data
    assert list(tail[0].y) == [4, 3, 2, 1, 1]
    assert tail[1].y[-1] == pytest.approx(100.0)
    assert figs["long_tail"].layout.xaxis.title.text
    logged = charts.long_tail_figure(tiny.item_popularity, log_axes=True)
    assert logged.layout.xaxis.type == "log" and logged.layout.yaxis.type == "log"
    assert len(charts.long_tail_figure(np.array([], dtype=np.int64)).data) == 0
    assert len(charts.user_activity_figure(np.array([], dtype=np.int64)).data) == 0


def test_long_tail_is_downsampled_for_big_catalogues():
    counts = np.arange(50_000, 0, -1)
    fig = charts.long_tail_figure(counts)
    assert len(fig.data[0].x) <= charts.MAX_CURVE_POINTS
    assert fig.data[0].x[0] == 1 and fig.data[0].x[-1] == 50_000


def test_long_tail_marks_the_top_1_and_10_percent():
    # 200 items: two with 100 interactions, 198 with one (398 in all). Top 1% = 2 items =
    # 200/398 = 50.3%; top 10% = 20 items = (200 + 18)/398 = 54.8%.
    fig = charts.long_tail_figure(np.array([100, 100] + [1] * 198))
    marks = fig.data[2]
    assert list(marks.x) == [2, 20]
    assert list(marks.y) == pytest.approx([100 * 200 / 398, 100 * 218 / 398])
    (note,) = fig.layout.annotations
    assert note.text == (
        "top 1% of items take 50% of interactions<br>top 10% of items take 55% of interactions"
    )
    # with log axes the curves cross where the note stands: it moves to the bottom right
    (logged,) = charts.long_tail_figure(np.array([100, 100] + [1] * 198), True).layout.annotations
    assert logged.text == "top 1%: 50% of interactions<br>top 10%: 55% of interactions"
    assert (logged.x, logged.y, logged.yanchor) == (0.92, 0.03, "bottom")
