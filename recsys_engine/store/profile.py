"""SQL behind the dataset profile (aggregates only; the profile module shapes them).

Every method returns a few numbers, a counts array or a frame with one row per month or
rating value; none returns the interaction table itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_engine.store.connection import StoreConnection

#: Rating columns with more distinct values than this are binned for the histogram.
MAX_RATING_VALUES = 50
RATING_BINS = 20


class ProfileQueries(StoreConnection):
    """Mixin of ``Store``: read-only aggregates for the Data page profile."""

    def interaction_summary(self, dataset_id: int) -> dict[str, Any]:
        """Counts and ranges over a dataset's interactions.

        Returns:
            Dict with ``n_interactions``, ``n_users``, ``n_items``, ``n_pairs`` (distinct
            user–item pairs), ``n_ratings`` (non-null), ``n_rating_values`` (distinct),
            ``rating_min``/``rating_max``/``rating_mean``/``rating_std`` (None without
            ratings), ``n_timestamps`` (non-null) and ``ts_min``/``ts_max`` (datetimes or
            None).
        """
        return self._record(
            "SELECT count(*) AS n_interactions, count(DISTINCT user_id) AS n_users, "
            "count(DISTINCT item_id) AS n_items, "
            "count(DISTINCT (user_id, item_id)) AS n_pairs, "
            "count(rating) AS n_ratings, count(DISTINCT rating) AS n_rating_values, "
            "min(rating) AS rating_min, max(rating) AS rating_max, "
            "avg(rating) AS rating_mean, stddev_pop(rating) AS rating_std, "
            "count(ts) AS n_timestamps, min(ts) AS ts_min, max(ts) AS ts_max "
            "FROM interactions WHERE dataset_id = ?",
            [int(dataset_id)],
        )

    def item_popularity_counts(self, dataset_id: int) -> np.ndarray:
        """Interactions per interacted item, most popular first (int64 array)."""
        return self._counts_by(dataset_id, "item_id")

    def user_activity_counts(self, dataset_id: int) -> np.ndarray:
        """Interactions per user, most active first (int64 array)."""
        return self._counts_by(dataset_id, "user_id")

    def _counts_by(self, dataset_id: int, column: str) -> np.ndarray:
        # ``column`` is one of two fixed names chosen above, never user text.
        out = (
            self.cursor()
            .execute(
                f"SELECT count(*) AS n FROM interactions WHERE dataset_id = ? "
                f"GROUP BY {column} ORDER BY n DESC",
                [int(dataset_id)],
            )
            .fetchnumpy()
        )
        return np.asarray(out["n"], dtype=np.int64)

    def rating_counts(
        self, dataset_id: int, max_values: int = MAX_RATING_VALUES, bins: int = RATING_BINS
    ) -> pd.DataFrame:
        """Histogram of the non-null ratings.

        Up to ``max_values`` distinct values are counted exactly (``width`` 0); more are
        put into ``bins`` equal-width bins between the smallest and largest rating, with
        ``rating`` the bin centre.

        Returns:
            Frame with columns ``rating`` (float), ``count`` (int), ``width`` (float),
            ordered by rating; empty without ratings.
        """
        did = int(dataset_id)
        cur = self.cursor()
        n_values, lo, hi = cur.execute(
            "SELECT count(DISTINCT rating), min(rating), max(rating) FROM interactions "
            "WHERE dataset_id = ? AND rating IS NOT NULL",
            [did],
        ).fetchall()[0]
        if not n_values:
            return pd.DataFrame(
                {
                    "rating": pd.Series(dtype=float),
                    "count": pd.Series(dtype=np.int64),
                    "width": pd.Series(dtype=float),
                }
            )
        if n_values <= max_values:
            df = cur.execute(
                "SELECT rating, count(*) AS count FROM interactions "
                "WHERE dataset_id = ? AND rating IS NOT NULL GROUP BY rating ORDER BY rating",
                [did],
            ).df()
            df["width"] = 0.0
        else:
            width = (hi - lo) / bins
            df = cur.execute(
                "SELECT least(CAST(floor((rating - ?) / ?) AS BIGINT), ?) AS bin, "
                "count(*) AS count FROM interactions "
                "WHERE dataset_id = ? AND rating IS NOT NULL GROUP BY bin ORDER BY bin",
                [lo, width, bins - 1, did],
            ).df()
            df["rating"] = lo + (df["bin"].astype(float) + 0.5) * width
            df["width"] = width
        df["rating"] = df["rating"].astype(float)
        df["count"] = df["count"].astype(np.int64)
        return df[["rating", "count", "width"]].reset_index(drop=True)

    def interactions_by_month(self, dataset_id: int) -> pd.DataFrame:
        """Interactions and active users per calendar month (timestamped rows only).

        Returns:
            Frame with columns ``month`` (first day, datetime), ``interactions``, ``users``;
            empty when the dataset has no timestamps.
        """
        df = (
            self.cursor()
            .execute(
                "SELECT date_trunc('month', ts) AS month, count(*) AS interactions, "
                "count(DISTINCT user_id) AS users FROM interactions "
                "WHERE dataset_id = ? AND ts IS NOT NULL GROUP BY month ORDER BY month",
                [int(dataset_id)],
            )
            .df()
        )
        df["month"] = pd.to_datetime(df["month"])
        for col in ("interactions", "users"):
            df[col] = df[col].astype(np.int64)
        return df

    def catalog_counts(self, dataset_id: int) -> dict[str, int]:
        """How the item and user files line up with the interactions.

        Returns:
            Dict with ``n_item_rows`` (distinct items in the item file), ``cold_items``
            (in the item file, no interactions), ``items_without_metadata`` (interacted but
            absent from the item file), ``n_user_rows``, ``cold_users`` (in the user file, no
            interactions) and ``users_without_features`` (interacting, absent from the user
            file).
        """
        did = int(dataset_id)
        row = (
            self.cursor()
            .execute(
                "SELECT "
                "(SELECT count(DISTINCT item_id) FROM items WHERE dataset_id = ?), "
                "(SELECT count(*) FROM (SELECT item_id FROM items WHERE dataset_id = ? "
                " EXCEPT SELECT item_id FROM interactions WHERE dataset_id = ?)), "
                "(SELECT count(*) FROM (SELECT item_id FROM interactions WHERE dataset_id = ? "
                " EXCEPT SELECT item_id FROM items WHERE dataset_id = ?)), "
                "(SELECT count(DISTINCT user_id) FROM users WHERE dataset_id = ?), "
                "(SELECT count(*) FROM (SELECT user_id FROM users WHERE dataset_id = ? "
                " EXCEPT SELECT user_id FROM interactions WHERE dataset_id = ?)), "
                "(SELECT count(*) FROM (SELECT user_id FROM interactions WHERE dataset_id = ? "
                " EXCEPT SELECT user_id FROM users WHERE dataset_id = ?))",
                [did] * 10,
            )
            .fetchall()[0]
        )
        names = (
            "n_item_rows",
            "cold_items",
            "items_without_metadata",
            "n_user_rows",
            "cold_users",
            "users_without_features",
        )
        return {name: int(value) for name, value in zip(names, row, strict=True)}
