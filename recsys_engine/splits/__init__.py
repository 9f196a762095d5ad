"""Train/validation/test splits, stored so that runs on one split pair up user by user.

Strategies (``SplitConfig.strategy``):

- ``random`` — per-user holdout: every user with at least ``min_interactions``
  interactions gives ``round(test_fraction · n_u)`` of them (at least one, never all) to
  test, chosen at random.
- ``temporal`` — one global cut: interactions at or after ``cut_date`` (or after the
  ``1 − test_fraction`` quantile of the timestamps) are test.
- ``leave-last`` — per user, the ``n_last`` most recent interactions are test (users need
  at least ``max(min_interactions, n_last + 1)`` interactions).
- ``cold-items`` — ``round(test_fraction · n_items)`` random items are held out with all
  their interactions.

A validation fold is then carved from the training rows the same way (``validation_fraction``
for random/temporal/cold-items, ``validation_last`` for leave-last). The test fold depends
only on the seed and the test parameters, never on the validation parameters, so splits
that differ only in validation share their test fold. Everything is vectorised: one sort of
the interaction arrays per fold, no Python loop per interaction.

Modules: ``config`` (``SplitConfig``, strategies, fold codes), ``folds`` (the strategies as
pure functions, ``split_stats``), ``stored`` (preview, create and list stored splits).
"""

from __future__ import annotations

from recsys_engine.splits.config import (
    STRATEGIES,
    STRATEGY_LABELS,
    TEST,
    TRAIN,
    VALIDATION,
    SplitConfig,
    suggested_config,
)
from recsys_engine.splits.folds import assign_folds, split_stats
from recsys_engine.splits.stored import (
    SplitPreview,
    create_split,
    fold_name,
    list_splits,
    preview_split,
)

__all__ = [
    "STRATEGIES",
    "STRATEGY_LABELS",
    "TEST",
    "TRAIN",
    "VALIDATION",
    "SplitConfig",
    "SplitPreview",
    "assign_folds",
    "create_split",
    "fold_name",
    "list_splits",
    "preview_split",
    "split_stats",
    "suggested_config",
]
