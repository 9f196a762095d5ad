"""Splits in the store: preview (computed, not stored), create, list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_engine.splits.config import SplitConfig
from recsys_engine.splits.folds import assign_folds, split_stats
from recsys_engine.store.names import check_name
from recsys_engine.store.splits import FOLDS

if TYPE_CHECKING:
    from recsys_engine.store import Store


@dataclass(frozen=True)
class SplitPreview:
    """A computed but not yet stored split.

    Attributes:
        config: the configuration used.
        folds: fold code per interaction (0 train, 1 validation, 2 test), aligned with
            ``arrays`` (the dataset's coded interactions sorted by user, item).
        stats: counts and warnings (see ``split_stats``).
        arrays: output of ``Store.coded_interactions``.
    """

    config: SplitConfig
    folds: np.ndarray
    stats: dict[str, Any]
    arrays: dict[str, Any]


def preview_split(store: Store, dataset: str | int, config: SplitConfig) -> SplitPreview:
    """Compute a split and its stats without storing it (the Train page's preview)."""
    did = store.resolve_dataset(dataset)
    arrays = store.coded_interactions(did)
    folds = assign_folds(arrays, config)
    return SplitPreview(
        config=config, folds=folds, stats=split_stats(arrays, folds, config), arrays=arrays
    )


def create_split(
    store: Store,
    dataset: str | int,
    config: SplitConfig,
    name: str | None = None,
    preview: SplitPreview | None = None,
) -> int:
    """Compute (or reuse ``preview``) and store a split; returns the new split id.

    Args:
        store: the ``Store``.
        dataset: dataset id or name.
        config: the split configuration.
        name: unique within the dataset; default ``config.default_name()`` (numbered on
            clashes). An explicit name that exists already is an error.
        preview: a ``preview_split`` result for the same dataset and config, to avoid
            computing it twice.
    """
    did = store.resolve_dataset(dataset)
    if preview is None or preview.config != config:
        preview = preview_split(store, did, config)
    if name is None:
        base = config.default_name()
        name, n = base, 1
        while store.split_name_exists(did, name):
            n += 1
            name = f"{base}-{n}"
    else:
        name = check_name(name, "split name")
    a = preview.arrays
    return store.insert_split(
        did,
        name=name,
        strategy=config.strategy,
        params=config.params(),
        seed=config.seed,
        stats=preview.stats,
        user_codes=a["user"],
        item_codes=a["item"],
        folds=preview.folds,
        user_ids=a["user_ids"],
        item_ids=a["item_ids"],
    )


def list_splits(store: Store, dataset: str | int | None = None) -> pd.DataFrame:
    """Stored splits (newest first), optionally of one dataset; ``params``/``stats`` JSON."""
    did = None if dataset is None else store.resolve_dataset(dataset)
    return store.list_splits(did)


def fold_name(code: int) -> str:
    """The stored name of a fold code."""
    return FOLDS[int(code)]
