"""Plain-language findings about a profiled dataset: what a data scientist would point out
before training (small, sparse, concentrated, unrated, untimed, cold items and users).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from recsys_engine.profile.stats import LIGHT_USER_THRESHOLD

if TYPE_CHECKING:
    from recsys_engine.profile.dataset import DatasetProfile

#: Warning thresholds (shares are fractions of 1).
LIGHT_USERS_WARN = 0.2
SPARSE_DENSITY = 0.001
TOP1_WARN = 0.2
TOP10_WARN = 0.6
MIN_ITEMS_FOR_TOP1 = 100
SMALL_USERS = 50
SMALL_ITEMS = 20


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
            "items): only models that read item content can recommend them "
            "(Content-based, Hybrid, and SASRec or GRU4Rec with 'Use content' on)"
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
