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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_engine.config import from_dict
from recsys_engine.errors import ConfigError
from recsys_engine.store import Store
from recsys_engine.store.datasets import check_name
from recsys_engine.store.splits import FOLDS

STRATEGIES = ("random", "temporal", "leave-last", "cold-items")
TRAIN, VALIDATION, TEST = 0, 1, 2

_RANDOM_ON_TIME_WARNING = (
    "random split on timestamped data: test interactions may be older than training "
    "ones (future leaks into training); consider 'temporal' or 'leave-last'"
)


@dataclass(frozen=True)
class SplitConfig:
    """How to split a dataset (validated on construction).

    Attributes:
        strategy: one of ``STRATEGIES``.
        test_fraction: per-user fraction (random), fraction of interactions after the cut
            (temporal, unless ``cut_date``) or fraction of items (cold-items); in (0, 1).
        validation_fraction: the same, applied to the training rows; 0 = no validation fold.
        min_interactions: per-user strategies only hold out from users with at least this
            many interactions (others stay whole in train).
        seed: random seed; the same seed gives the identical split.
        cut_date: temporal only; ISO date/time of the test cut (overrides test_fraction).
        n_last: leave-last only; most recent interactions per user held out for test.
        validation_last: leave-last only; next most recent per user for validation.
    """

    strategy: str = "random"
    test_fraction: float = 0.2
    validation_fraction: float = 0.0
    min_interactions: int = 2
    seed: int = 42
    cut_date: str | None = None
    n_last: int = 1
    validation_last: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})"
            )
        for name in ("test_fraction", "validation_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name} must be a number (got {value!r})")
        if not 0.0 < float(self.test_fraction) < 1.0:
            raise ConfigError(f"test_fraction must be in (0, 1) (got {self.test_fraction!r})")
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ConfigError(
                f"validation_fraction must be in [0, 1) (got {self.validation_fraction!r})"
            )
        for name, low in (("min_interactions", 1), ("n_last", 1), ("validation_last", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low} (got {value!r})")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer (got {self.seed!r})")
        if self.cut_date is not None:
            if self.strategy != "temporal":
                raise ConfigError(
                    f"cut_date only applies to strategy 'temporal' (got {self.strategy!r})"
                )
            _parse_date(self.cut_date)
        if self.strategy == "leave-last" and self.validation_fraction:
            raise ConfigError(
                "validation_fraction does not apply to strategy 'leave-last'; use "
                f"validation_last (got validation_fraction={self.validation_fraction!r})"
            )
        if self.strategy != "leave-last" and self.validation_last:
            raise ConfigError(
                "validation_last only applies to strategy 'leave-last' "
                f"(got {self.validation_last!r} with {self.strategy!r})"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitConfig:
        """Build from a dict; unknown keys are errors."""
        return from_dict(cls, data, what="split parameter")

    def params(self) -> dict[str, Any]:
        """The parameters that matter for this strategy (what is stored with the split)."""
        out = asdict(self)
        out.pop("seed")
        if self.strategy != "temporal":
            out.pop("cut_date")
        if self.strategy != "leave-last":
            out.pop("n_last")
            out.pop("validation_last")
        else:
            out.pop("test_fraction")
            out.pop("validation_fraction")
        if self.strategy in ("temporal", "cold-items"):
            out.pop("min_interactions")
        if self.strategy == "temporal" and self.cut_date is not None:
            out.pop("test_fraction")
        return out

    def default_name(self) -> str:
        """A readable default split name, e.g. ``random-0.2-seed42``."""
        if self.strategy == "leave-last":
            core = f"leave-last-{self.n_last}"
        elif self.strategy == "temporal" and self.cut_date is not None:
            core = f"temporal-{self.cut_date}"
        else:
            core = f"{self.strategy}-{self.test_fraction:g}"
        return f"{core}-seed{self.seed}"


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


# -- pure functions on arrays -------------------------------------------------------------
def assign_folds(arrays: dict[str, np.ndarray], config: SplitConfig) -> np.ndarray:
    """Fold code per interaction (0 train, 1 validation, 2 test) for coded arrays.

    ``arrays`` needs ``user`` and ``item`` (int codes) and ``ts`` (float seconds, NaN when
    unknown). Rows must be in a canonical order (``coded_interactions`` sorts by user,
    item) for the same seed to give the same split.
    """
    user = np.asarray(arrays["user"], dtype=np.int64)
    item = np.asarray(arrays["item"], dtype=np.int64)
    ts = np.asarray(arrays["ts"], dtype=np.float64)
    n = len(user)
    if n == 0:
        raise ConfigError("the dataset has no interactions to split")
    folds = np.zeros(n, dtype=np.int8)
    all_rows = np.arange(n)
    rng_test = np.random.default_rng([config.seed, 0])
    rng_val = np.random.default_rng([config.seed, 1])
    s = config.strategy
    if s in ("temporal", "leave-last") and np.isnan(ts).all():
        raise ConfigError(f"strategy {s!r} needs timestamps, and this dataset has none")

    if s == "random":
        test = _random_holdout(
            user, all_rows, config.test_fraction, config.min_interactions, rng_test
        )
    elif s == "temporal":
        cut = _parse_date(config.cut_date) if config.cut_date else None
        test = _temporal(ts, all_rows, config.test_fraction, cut)
    elif s == "leave-last":
        test = _leave_last(user, ts, all_rows, config.n_last, config.min_interactions, rng_test)
    else:
        test = _cold_items(item, all_rows, config.test_fraction, rng_test)
    folds[test] = TEST
    if len(test) == 0:
        raise ConfigError(
            f"strategy {s!r} with these parameters puts no interaction in test; "
            "lower min_interactions or raise the fraction"
        )

    train_rows = np.flatnonzero(folds == TRAIN)
    if s == "random" and config.validation_fraction > 0:
        val = _random_holdout(
            user, train_rows, config.validation_fraction, config.min_interactions, rng_val
        )
    elif s == "temporal" and config.validation_fraction > 0:
        val = _temporal(ts, train_rows, config.validation_fraction, None)
    elif s == "leave-last" and config.validation_last > 0:
        val = _leave_last(
            user, ts, train_rows, config.validation_last, config.min_interactions, rng_val
        )
    elif s == "cold-items" and config.validation_fraction > 0:
        val = _cold_items(item, train_rows, config.validation_fraction, rng_val)
    else:
        val = np.empty(0, dtype=np.int64)
    folds[val] = VALIDATION
    return folds


def split_stats(
    arrays: dict[str, np.ndarray], folds: np.ndarray, config: SplitConfig
) -> dict[str, Any]:
    """Counts and warnings of a split.

    Returns:
        ``interactions``, ``train_rows``/``validation_rows``/``test_rows``,
        ``train_users``/``validation_users``/``test_users``, ``test_items``,
        ``test_users_unseen`` (test users without any training row),
        ``test_items_unseen`` (test items without any training row),
        ``test_rows_unseen_item``, ``users_kept_whole`` (per-user strategies: users below
        the minimum), ``cut`` (temporal), and ``warnings`` (list of strings).
    """
    user = np.asarray(arrays["user"])
    item = np.asarray(arrays["item"])
    ts = np.asarray(arrays["ts"], dtype=np.float64)
    n_users = int(user.max()) + 1 if len(user) else 0
    n_items = len(arrays.get("item_ids", [])) or (int(item.max()) + 1 if len(item) else 0)
    tr, va, te = folds == TRAIN, folds == VALIDATION, folds == TEST
    train_user = np.bincount(user[tr], minlength=n_users) > 0
    train_item = np.bincount(item[tr], minlength=n_items) > 0
    test_users = np.unique(user[te])
    test_items = np.unique(item[te])
    stats: dict[str, Any] = {
        "interactions": int(len(folds)),
        "train_rows": int(tr.sum()),
        "validation_rows": int(va.sum()),
        "test_rows": int(te.sum()),
        "train_users": int(train_user.sum()),
        "validation_users": int(len(np.unique(user[va]))),
        "test_users": int(len(test_users)),
        "train_items": int(train_item.sum()),
        "test_items": int(len(test_items)),
        "test_users_unseen": int((~train_user[test_users]).sum()),
        "test_items_unseen": int((~train_item[test_items]).sum()),
        "test_rows_unseen_item": int((~train_item[item[te]]).sum()),
    }
    warnings: list[str] = []
    has_time = bool(np.isfinite(ts).any())
    if config.strategy == "random" and has_time:
        warnings.append(_RANDOM_ON_TIME_WARNING)
    if config.strategy in ("random", "leave-last"):
        counts = np.bincount(user, minlength=n_users)
        need = config.min_interactions
        if config.strategy == "leave-last":
            need = max(need, config.n_last + 1)
        whole = int(((counts > 0) & (counts < need)).sum())
        stats["users_kept_whole"] = whole
        if whole:
            warnings.append(
                f"{whole} users have fewer than {need} interactions and stay wholly in train"
            )
    if config.strategy == "temporal":
        cut_ts = ts[te]
        stats["cut"] = _iso(float(np.nanmin(cut_ts))) if len(cut_ts) else None
    if stats["test_users_unseen"]:
        warnings.append(
            f"{stats['test_users_unseen']} test users have no training interactions; "
            "history-based models cannot score them (they count as 0)"
        )
    if stats["test_items_unseen"] and config.strategy != "cold-items":
        warnings.append(
            f"{stats['test_items_unseen']} test items never appear in training; "
            "collaborative models cannot recommend them"
        )
    stats["warnings"] = warnings
    return stats


# -- store-facing API ---------------------------------------------------------------------
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


# -- strategies (return selected row indices) ---------------------------------------------
def _random_holdout(
    user: np.ndarray, rows: np.ndarray, fraction: float, min_n: int, rng: np.random.Generator
) -> np.ndarray:
    if len(rows) == 0:
        return rows
    u = user[rows]
    counts = np.bincount(u)
    n_out = np.floor(counts * fraction + 0.5).astype(np.int64)
    n_out = np.minimum(np.maximum(n_out, 1), counts - 1)
    n_out[counts < max(min_n, 2)] = 0
    key = rng.random(len(rows))
    order = np.lexsort((key, u))
    return rows[order[_rank_in_group(u[order], counts) < n_out[u[order]]]]


def _leave_last(
    user: np.ndarray,
    ts: np.ndarray,
    rows: np.ndarray,
    n_last: int,
    min_n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    if len(rows) == 0:
        return rows
    u = user[rows]
    counts = np.bincount(u)
    # newest first; unknown times sort last (never held out); random key breaks ties
    neg_ts = np.where(np.isnan(ts[rows]), np.inf, -ts[rows])
    key = rng.random(len(rows))
    order = np.lexsort((key, neg_ts, u))
    eligible = counts >= max(min_n, n_last + 1)
    uo = u[order]
    pick = (_rank_in_group(uo, counts) < n_last) & eligible[uo] & np.isfinite(neg_ts[order])
    return rows[order[pick]]


def _temporal(ts: np.ndarray, rows: np.ndarray, fraction: float, cut: float | None) -> np.ndarray:
    t = ts[rows]
    known = np.isfinite(t)
    if not known.any():
        return rows[:0]
    if cut is None:
        cut_value = np.quantile(t[known], 1.0 - fraction)
        pick = known & (t > cut_value)
    else:
        pick = known & (t >= cut)
    return rows[pick]


def _cold_items(
    item: np.ndarray, rows: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    if len(rows) == 0:
        return rows
    items = np.unique(item[rows])
    n_out = min(max(int(math.floor(len(items) * fraction + 0.5)), 1), len(items) - 1)
    chosen = rng.permutation(items)[:n_out]
    return rows[np.isin(item[rows], chosen)]


def _rank_in_group(sorted_groups: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Position of each row inside its group, for rows sorted by group code."""
    starts = np.cumsum(counts) - counts
    return np.arange(len(sorted_groups)) - starts[sorted_groups]


def _parse_date(text: str) -> float:
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"cut_date must be an ISO date or date-time (got {text!r})") from exc
    if stamp is pd.NaT:
        raise ConfigError(f"cut_date must be an ISO date or date-time (got {text!r})")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return float(stamp.value) / 1e9


def _iso(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s").isoformat()
