"""A data scientist's profile of a loaded dataset: counts, long tails, time, warnings.

``profile_dataset`` reads a handful of aggregates from the store (never the interaction
table itself) and returns a frozen ``DatasetProfile``; ``profile.charts`` turns its
arrays and frames into figures and ``profile.findings`` words its warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_engine.profile.findings import profile_warnings
from recsys_engine.profile.stats import LIGHT_USER_THRESHOLD, gini, top_share

if TYPE_CHECKING:
    from recsys_engine.store import Store


@dataclass(frozen=True, eq=False)
class DatasetProfile:
    """Everything the Data page shows about one dataset.

    Shares and density are fractions in [0, 1]. Popularity statistics (top shares, Gini)
    are over the items that have interactions; items only in the item file are counted in
    ``cold_items``.

    Attributes:
        dataset_id: the dataset's id.
        name: its display name.
        feedback: ``"explicit"`` or ``"implicit"``.
        rating_scale: declared (min, max) for explicit feedback, else None.
        n_interactions: interaction rows.
        n_users: distinct users with at least one interaction.
        n_items: distinct items with at least one interaction.
        n_catalog_items: items in the item file or seen in interactions.
        n_pairs: distinct (user, item) pairs.
        density: ``n_pairs / (n_users * n_items)``.
        top1_share: share of interactions on the most popular 1% of items (at least one).
        top10_share: the same for the top 10%.
        gini: Gini coefficient of interactions per item (0 = even, → 1 = concentrated).
        light_user_share: share of users with fewer than ``LIGHT_USER_THRESHOLD``
            interactions.
        activity_median: median interactions per user.
        activity_mean: mean interactions per user.
        activity_max: most interactions of one user.
        popularity_median: median interactions per interacted item.
        n_ratings: interactions with a rating.
        n_rating_values: distinct rating values.
        rating_min: smallest rating (None without ratings); likewise the next three.
        rating_max: largest rating.
        rating_mean: mean rating.
        rating_std: population standard deviation of the ratings.
        n_timestamps: interactions with a timestamp.
        ts_min: earliest timestamp (None without timestamps).
        ts_max: latest timestamp.
        n_item_rows: items in the item file.
        cold_items: items in the item file without interactions.
        items_without_metadata: interacted items missing from the item file.
        n_user_rows: users in the user file.
        cold_users: users in the user file without interactions.
        users_without_features: interacting users missing from the user file.
        duplicate_rows: interaction rows beyond the first for a (user, item) pair.
        duplicates_removed: duplicates the load reported removing or merging (parsed from
            its warnings), None when it reported none.
        load_warnings: the warnings recorded when the dataset was loaded
            (``dataset["warnings"]``).
        item_popularity: interactions per interacted item, most popular first.
        user_activity: interactions per user, most active first.
        rating_counts: histogram frame (``rating``, ``count``, ``width``; width 0 for exact
            values), empty without ratings.
        monthly: frame (``month``, ``interactions``, ``users``), empty without timestamps.
        warnings: plain-language findings, most important first.
    """

    dataset_id: int
    name: str
    feedback: str
    rating_scale: tuple[float, float] | None
    n_interactions: int
    n_users: int
    n_items: int
    n_catalog_items: int
    n_pairs: int
    density: float
    top1_share: float
    top10_share: float
    gini: float
    light_user_share: float
    activity_median: float
    activity_mean: float
    activity_max: int
    popularity_median: float
    n_ratings: int
    n_rating_values: int
    rating_min: float | None
    rating_max: float | None
    rating_mean: float | None
    rating_std: float | None
    n_timestamps: int
    ts_min: datetime | None
    ts_max: datetime | None
    n_item_rows: int
    cold_items: int
    items_without_metadata: int
    n_user_rows: int
    cold_users: int
    users_without_features: int
    duplicate_rows: int
    duplicates_removed: int | None
    load_warnings: list[str]
    item_popularity: np.ndarray = field(repr=False)
    user_activity: np.ndarray = field(repr=False)
    rating_counts: pd.DataFrame = field(repr=False)
    monthly: pd.DataFrame = field(repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def time_span_days(self) -> float | None:
        """Days between the first and last timestamp, None without timestamps."""
        if self.ts_min is None or self.ts_max is None:
            return None
        return (self.ts_max - self.ts_min).total_seconds() / 86_400

    def summary(self) -> dict[str, Any]:
        """Headline numbers as JSON-safe scalars (for metric tiles, tables and ``--json``)."""
        return {
            "dataset_id": self.dataset_id,
            "name": self.name,
            "feedback": self.feedback,
            "interactions": self.n_interactions,
            "users": self.n_users,
            "items": self.n_items,
            "catalog_items": self.n_catalog_items,
            "density": self.density,
            "top1_share": self.top1_share,
            "top10_share": self.top10_share,
            "gini": self.gini,
            "light_user_share": self.light_user_share,
            "activity_median": self.activity_median,
            "activity_mean": self.activity_mean,
            "rating_mean": self.rating_mean,
            "first_interaction": self.ts_min.isoformat() if self.ts_min else None,
            "last_interaction": self.ts_max.isoformat() if self.ts_max else None,
            "cold_items": self.cold_items,
            "cold_users": self.cold_users,
            "duplicate_rows": self.duplicate_rows,
            "duplicates_removed": self.duplicates_removed,
            "warnings": list(self.warnings),
        }


def profile_dataset(store: Store, dataset_id: int) -> DatasetProfile:
    """Profile one dataset from SQL aggregates.

    Args:
        store: the database.
        dataset_id: an existing dataset id.

    Returns:
        The ``DatasetProfile`` with its warnings.

    Raises:
        NotFoundError: no dataset has this id.
    """
    dataset = store.get_dataset(dataset_id)
    summary = store.interaction_summary(dataset_id)
    catalog = store.catalog_counts(dataset_id)
    popularity = store.item_popularity_counts(dataset_id)
    activity = store.user_activity_counts(dataset_id)

    n_inter = int(summary["n_interactions"])
    n_users = int(summary["n_users"])
    n_items = int(summary["n_items"])
    n_pairs = int(summary["n_pairs"])
    scale = None
    if dataset["rating_min"] is not None and dataset["rating_max"] is not None:
        scale = (float(dataset["rating_min"]), float(dataset["rating_max"]))

    profile = DatasetProfile(
        dataset_id=int(dataset["id"]),
        name=str(dataset["name"]),
        feedback=str(dataset["feedback"]),
        rating_scale=scale,
        n_interactions=n_inter,
        n_users=n_users,
        n_items=n_items,
        n_catalog_items=n_items + catalog["cold_items"],
        n_pairs=n_pairs,
        density=n_pairs / (n_users * n_items) if n_users and n_items else 0.0,
        top1_share=top_share(popularity, 0.01),
        top10_share=top_share(popularity, 0.10),
        gini=gini(popularity),
        light_user_share=float(np.mean(activity < LIGHT_USER_THRESHOLD)) if n_users else 0.0,
        activity_median=float(np.median(activity)) if n_users else 0.0,
        activity_mean=float(activity.mean()) if n_users else 0.0,
        activity_max=int(activity.max()) if n_users else 0,
        popularity_median=float(np.median(popularity)) if n_items else 0.0,
        n_ratings=int(summary["n_ratings"]),
        n_rating_values=int(summary["n_rating_values"]),
        rating_min=_float_or_none(summary["rating_min"]),
        rating_max=_float_or_none(summary["rating_max"]),
        rating_mean=_float_or_none(summary["rating_mean"]),
        rating_std=_float_or_none(summary["rating_std"]),
        n_timestamps=int(summary["n_timestamps"]),
        ts_min=summary["ts_min"],
        ts_max=summary["ts_max"],
        n_item_rows=catalog["n_item_rows"],
        cold_items=catalog["cold_items"],
        items_without_metadata=catalog["items_without_metadata"],
        n_user_rows=catalog["n_user_rows"],
        cold_users=catalog["cold_users"],
        users_without_features=catalog["users_without_features"],
        duplicate_rows=n_inter - n_pairs,
        duplicates_removed=duplicates_from_warnings(dataset["warnings"]),
        load_warnings=[str(w) for w in dataset["warnings"]],
        item_popularity=popularity,
        user_activity=activity,
        rating_counts=store.rating_counts(dataset_id),
        monthly=store.interactions_by_month(dataset_id),
    )
    return replace(profile, warnings=profile_warnings(profile))


_NUMBER = re.compile(r"\d[\d,]*")


def duplicates_from_warnings(warnings: list[str]) -> int | None:
    """Total of the first number in each load warning that mentions duplicates, or None."""
    total = None
    for text in warnings:
        text = str(text)
        if "duplicate" not in text.lower():
            continue
        match = _NUMBER.search(text)
        if match:
            total = (total or 0) + int(match.group().replace(",", ""))
    return total


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
