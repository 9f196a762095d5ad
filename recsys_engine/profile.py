"""A data scientist's profile of a loaded dataset: counts, long tails, time, warnings.

``profile_dataset`` reads a handful of aggregates from the store (never the interaction
table itself) and returns a frozen ``DatasetProfile``; ``recsys_engine.charts`` turns its
arrays and frames into figures.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from recsys_engine.store import Store

#: Users with fewer interactions than this count as "light" users.
LIGHT_USER_THRESHOLD = 5
#: Warning thresholds (shares are fractions of 1).
LIGHT_USERS_WARN = 0.2
SPARSE_DENSITY = 0.001
TOP1_WARN = 0.2
TOP10_WARN = 0.6
MIN_ITEMS_FOR_TOP1 = 100
SMALL_USERS = 50
SMALL_ITEMS = 20


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


def top_share(counts: np.ndarray, fraction: float) -> float:
    """Share of all interactions taken by the most popular ``fraction`` of items.

    The top group has ``ceil(fraction * n)`` items, at least one. ``counts`` need not be
    sorted. Returns 0.0 for no items.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if counts.size == 0 or total <= 0:
        return 0.0
    k = max(1, math.ceil(fraction * counts.size - 1e-9))
    top = np.partition(counts, counts.size - k)[counts.size - k :]
    return float(top.sum() / total)


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts.

    G = (2 Σ_i i·x_(i)) / (n Σ_i x_i) − (n + 1) / n with x sorted ascending and i = 1..n;
    0 when every item is equally popular, (n − 1)/n when one item has everything.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    total = x.sum()
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * (ranks * x).sum() / (n * total) - (n + 1) / n)


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


def profile_warnings(p: DatasetProfile) -> list[str]:
    """Plain-language findings about a profiled dataset, most important first."""
    out: list[str] = []
    if p.n_interactions == 0:
        return ["the dataset has no interactions"]
    if p.n_users < SMALL_USERS or p.n_items < SMALL_ITEMS:
        out.append(
            f"small dataset ({_n(p.n_users, 'user')}, {_n(p.n_items, 'item')}): differences "
            "between models will be noisy"
        )
    if p.light_user_share >= LIGHT_USERS_WARN:
        out.append(
            f"{_pct(p.light_user_share)} of users have fewer than {LIGHT_USER_THRESHOLD} "
            "interactions: little history to learn from or to hold out"
        )
    if p.density < SPARSE_DENSITY:
        out.append(
            f"very sparse: {_pct(p.density)} of user–item pairs are observed; "
            "collaborative models need many interactions per user and item"
        )
    if p.n_items >= MIN_ITEMS_FOR_TOP1 and p.top1_share >= TOP1_WARN:
        out.append(
            f"top 1% of items take {_pct(p.top1_share)} of interactions: Popularity will "
            "be a strong baseline"
        )
    elif p.n_items >= SMALL_ITEMS and p.top10_share >= TOP10_WARN:
        out.append(
            f"top 10% of items take {_pct(p.top10_share)} of interactions: Popularity will "
            "be a strong baseline"
        )
    out.extend(_rating_warnings(p))
    out.extend(_time_warnings(p))
    if p.duplicate_rows:
        out.append(
            f"{_n(p.duplicate_rows, 'interaction row')} "
            f"{_verb(p.duplicate_rows, 'repeats', 'repeat')} a (user, item) pair already seen"
        )
    if p.cold_items:
        out.append(
            f"{_n(p.cold_items, 'item')} in the item file "
            f"{_verb(p.cold_items, 'has', 'have')} no interactions (cold-start "
            "items): only content and hybrid models can recommend them"
        )
    if p.n_item_rows and p.items_without_metadata:
        out.append(
            f"{_n(p.items_without_metadata, 'interacted item')} "
            f"{_verb(p.items_without_metadata, 'is', 'are')} missing from the item "
            "file: content models know nothing about them"
        )
    if p.cold_users:
        out.append(
            f"{_n(p.cold_users, 'user')} in the user file "
            f"{_verb(p.cold_users, 'has', 'have')} no interactions"
        )
    return out


def _rating_warnings(p: DatasetProfile) -> list[str]:
    out: list[str] = []
    if p.feedback == "explicit" and p.n_ratings == 0:
        out.append("feedback is explicit but no interaction has a rating")
    elif p.feedback == "explicit" and p.n_ratings < p.n_interactions:
        unrated = p.n_interactions - p.n_ratings
        out.append(f"{_n(unrated, 'interaction')} {_verb(unrated, 'has', 'have')} no rating")
    if p.n_ratings and p.n_rating_values == 1:
        out.append(
            f"ratings are all the same value ({p.rating_min:g}): there is nothing to "
            "predict; treat the data as implicit feedback"
        )
    if p.n_ratings and p.rating_scale is not None:
        lo, hi = p.rating_scale
        if p.rating_min < lo or p.rating_max > hi:
            out.append(
                f"ratings run from {p.rating_min:g} to {p.rating_max:g}, outside the "
                f"declared scale {lo:g}–{hi:g}"
            )
    return out


def _time_warnings(p: DatasetProfile) -> list[str]:
    if p.n_timestamps == 0:
        return ["no timestamps: temporal splits unavailable"]
    out: list[str] = []
    if p.n_timestamps < p.n_interactions:
        missing = p.n_interactions - p.n_timestamps
        out.append(
            f"{_n(missing, 'interaction')} ({_pct(missing / p.n_interactions)}) "
            f"{_verb(missing, 'has', 'have')} no "
            "timestamp: temporal splits cannot place them"
        )
    if p.ts_min is not None and p.ts_min < datetime(1971, 1, 1):
        out.append(f"earliest timestamp is {p.ts_min:%Y-%m-%d}: check the time column's unit")
    if p.ts_max is not None and p.ts_max > datetime.now() + timedelta(days=1):
        out.append(f"latest timestamp is {p.ts_max:%Y-%m-%d}, in the future")
    if p.n_timestamps > 1 and p.ts_min == p.ts_max:
        out.append("all timestamps are equal: temporal splits are meaningless")
    return out


def _pct(share: float) -> str:
    """A percentage with enough digits to be non-zero (0.04%, 4%, 92%)."""
    value = 100.0 * share
    if value == 0 or value >= 9.95:
        return f"{value:.0f}%"
    if value >= 1:
        return f"{value:.1f}%".replace(".0%", "%")
    digits = max(1, -math.floor(math.log10(value)))
    return f"{value:.{digits}f}%"


def _n(count: int, noun: str) -> str:
    """``1 item``, ``2 items``, ``1,234 items``."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _verb(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
