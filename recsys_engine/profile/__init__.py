"""The dataset profile shown on the Data page: what a data scientist checks
before training — counts, long tails, rating and time distributions, warnings.

Layout (one idea per module; this file only re-exports the public API):

- ``dataset`` — ``DatasetProfile`` and ``profile_dataset``, which reads a handful of SQL
  aggregates from the store (never the interaction table itself).
- ``stats`` — pure statistics of count distributions (top shares, Gini).
- ``findings`` — the plain-language warnings and their thresholds.
- ``charts`` — plotly figures of a profile (import ``recsys_engine.profile.charts``; kept
  out of this file so the profile itself needs no plotly).
"""

from __future__ import annotations

from recsys_engine.profile.dataset import (
    DatasetProfile,
    duplicates_from_warnings,
    profile_dataset,
)
from recsys_engine.profile.findings import profile_warnings
from recsys_engine.profile.stats import LIGHT_USER_THRESHOLD, gini, top_share

__all__ = [
    "LIGHT_USER_THRESHOLD",
    "DatasetProfile",
    "duplicates_from_warnings",
    "gini",
    "profile_dataset",
    "profile_warnings",
    "top_share",
]
