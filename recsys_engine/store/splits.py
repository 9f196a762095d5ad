"""SQL for splits and their per-interaction folds (filled in by the evaluation work)."""

from __future__ import annotations


class SplitTables:
    """Mixin of ``Store``: split tables."""
