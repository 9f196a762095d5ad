"""SQL for runs, progress, metrics, per-user metrics and recommendations."""

from __future__ import annotations


class RunTables:
    """Mixin of ``Store``: run tables."""
