"""The split an explainer reads: its items and users, their labels and lookups.

``Catalogue`` holds the training, seen and test matrices with the item and user ids, item
titles and categories, and the popularity context, and answers the lookups the Explain
page and the CLI need (ids to indexes, pickers, a user's history). It knows nothing of the
model; ``Explainer`` builds on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.explain.context import more_popular_than, popularity_percentile
from recsys_engine.explain.wording import item_label
from recsys_engine.split_data import SplitData


class Catalogue:
    """Items and users of one split, with labels and lookups.

    Args:
        data: the split (``split_data.load_split_data``).
        interactions: ``Store.coded_interactions(dataset, split)`` arrays (for ratings and
            dates of the history table), or None.
        inputs: the histories users are ranked from (default ``data.inputs``: training +
            validation folds, as evaluation scores test users).
    """

    def __init__(
        self,
        data: SplitData,
        interactions: dict[str, np.ndarray] | None = None,
        inputs: sp.csr_matrix | None = None,
    ):
        self.train = sp.csr_matrix(data.train.matrix, dtype=np.float32)
        self.train.sort_indices()
        self.inputs = sp.csr_matrix(data.inputs if inputs is None else inputs, dtype=np.float32)
        self.inputs.sort_indices()
        self.seen = sp.csr_matrix(data.seen)
        self.test = sp.csr_matrix(data.test)
        self.item_ids = np.asarray(data.train.item_ids, dtype=object)
        self.user_ids = np.asarray(data.train.user_ids, dtype=object)
        self._items = pd.Index(self.item_ids.astype(str))
        self._users = pd.Index(self.user_ids.astype(str))
        self.titles, self.categories = item_metadata(data.train.items, self.item_ids)
        self._cat_matrix, self._cat_names = category_matrix(self.categories)
        self._train_csc = self.train.tocsc()
        self.popularity = np.diff(self._train_csc.indptr).astype(np.int64)
        # share of catalogue items at most as popular (0–100)
        self.percentile = popularity_percentile(self.popularity)
        # percent of the other items strictly less popular (what the page says in words)
        self.more_popular = more_popular_than(self.popularity)
        self.interactions = interactions

    def test_users(self) -> np.ndarray:
        """Ids of users with test items (the ones evaluation scored), in index order."""
        rows = np.flatnonzero(np.diff(self.test.indptr) > 0)
        return self.user_ids[rows].astype(str)

    def item_index(self, item_ids: str | Sequence[str] | np.ndarray) -> np.ndarray:
        """Internal indexes of item ids; ``ConfigError`` naming unknown ids."""
        ids = [str(i) for i in np.atleast_1d(np.asarray(item_ids, dtype=object))]
        idx = self._items.get_indexer(ids)
        if (idx < 0).any():
            bad = [i for i, j in zip(ids, idx, strict=True) if j < 0][:5]
            raise ConfigError(f"unknown item id(s) {', '.join(map(repr, bad))}")
        return idx

    def user_row(self, user_id: str) -> int:
        """Internal index of a user id; ``ConfigError`` when unknown."""
        row = self._users.get_indexer([str(user_id)])[0]
        if row < 0:
            raise ConfigError(f"unknown user id {user_id!r} in this run's dataset")
        return int(row)

    def item_labels(self) -> pd.DataFrame:
        """Every item with a display label ``title · id 55``, most popular first (pickers).

        The id is named as an id, so a number in brackets is never read as a count; an
        item whose title is its id shows once.
        """
        frame = pd.DataFrame(
            {
                "item_id": self.item_ids.astype(str),
                "title": self.titles,
                "popularity": self.popularity,
            }
        )
        frame["label"] = [
            item_label(t, i) for t, i in zip(frame["title"], frame["item_id"], strict=True)
        ]
        return frame.sort_values(["popularity", "item_id"], ascending=[False, True]).reset_index(
            drop=True
        )

    def user_history(self, user_id: str) -> pd.DataFrame:
        """A user's interactions: item_id, title, categories, rating, date, fold.

        ``fold`` is ``train`` (what the model sees), ``validation`` or ``test`` (held out:
        the items we hope to recommend). Newest first when dates exist; events at the same
        time in the reverse of the order an order-aware model reads them (the higher item
        index first, ``models.data.ordered_histories``), so the table shows that order.
        """
        row = self.user_row(user_id)
        a = self.interactions
        if a is not None and "fold" in a:
            lo, hi = np.searchsorted(a["user"], [row, row + 1])
            items = a["item"][lo:hi]
            folds = np.array(["train", "validation", "test"], dtype=object)[a["fold"][lo:hi]]
            rating = a["rating"][lo:hi]
            ts = a["ts"][lo:hi]
        else:  # no stored arrays: the split matrices only
            parts = [(self.seen, "train"), (self.test, "test")]
            items = np.concatenate([m.indices[m.indptr[row] : m.indptr[row + 1]] for m, _ in parts])
            folds = np.concatenate(
                [[f] * (m.indptr[row + 1] - m.indptr[row]) for m, f in parts]
            ).astype(object)
            rating = np.full(len(items), np.nan)
            ts = np.full(len(items), np.nan)
        frame = pd.DataFrame(
            {
                "index": items,
                "item_id": self.item_ids[items].astype(str),
                "title": self.titles[items],
                "categories": [", ".join(self.categories[i]) for i in items],
                "rating": rating,
                "date": pd.to_datetime(ts, unit="s", errors="coerce"),
                "fold": folds,
            }
        )
        frame = frame.sort_values(["date", "index"], ascending=False, na_position="last")
        return frame.drop(columns="index")


def item_metadata(items: pd.DataFrame | None, item_ids: np.ndarray) -> tuple[np.ndarray, list]:
    """Titles (item id when missing) and category lists aligned to ``item_ids``."""
    ids = np.asarray(item_ids, dtype=object).astype(str)
    titles = ids.astype(object).copy()
    cats: list[list[str]] = [[] for _ in ids]
    if items is None or len(items) == 0:
        return titles, cats
    frame = items.drop_duplicates("item_id", keep="last")
    pos = pd.Index(ids).get_indexer(frame["item_id"].astype(str))
    ok = pos >= 0
    if "title" in frame.columns:
        t = frame["title"].to_numpy(dtype=object)
        good = ok & pd.notna(t) & (pd.Series(t).astype(str).str.strip() != "").to_numpy()
        titles[pos[good]] = pd.Series(t[good]).astype(str).to_numpy()
    if "categories" in frame.columns:
        for p, v in zip(pos, frame["categories"].tolist(), strict=True):
            if p >= 0 and isinstance(v, list | tuple | np.ndarray):
                cats[p] = [str(c) for c in v]
    return titles, cats


def category_matrix(categories: list[list[str]]) -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary items × categories matrix and the category names."""
    lengths = np.array([len(c) for c in categories])
    flat = np.array([c for cs in categories for c in cs], dtype=object)
    if len(flat) == 0:
        return sp.csr_matrix((len(categories), 0), dtype=np.float32), np.array([], dtype=object)
    codes, names = pd.factorize(flat, sort=True)
    m = sp.csr_matrix(
        (
            np.ones(len(codes), dtype=np.float32),
            (np.repeat(np.arange(len(categories)), lengths), codes),
        ),
        shape=(len(categories), len(names)),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m, np.asarray(names, dtype=object)
