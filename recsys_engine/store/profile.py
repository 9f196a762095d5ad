"""SQL behind the dataset profile (aggregates only; the profile module shapes them)."""

from __future__ import annotations


class ProfileQueries:
    """Mixin of ``Store``: read-only aggregates for the Data page profile."""
