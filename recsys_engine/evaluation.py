"""Full-ranking offline evaluation with per-user metric rows (DESIGN §5).

Every test user is scored against **every** catalogue item (no sampled negatives) from
everything they did before the test events (training and validation folds: ``SplitData``
says why; models with one embedding per training user get the training fold, the history
they know a user by: ``SplitData.inputs_for``); those items are excluded; the top K_max come
from ``argpartition``. Users are processed in batches of ``batch_size``, so memory is bounded by
batch_size × n_items whatever the number of users. A user the model cannot score (empty
history for a history-based model, or non-finite scores) gets no list and counts as 0 in
every accuracy metric — never dropped. Means are over test users with a non-empty test set.

Confidence intervals: normal approximation, mean ± 1.96 · sd / √n over the per-user values
(sd with ddof=1); deterministic, and at the hundreds of users typical here it agrees with a
bootstrap to the third decimal. Metrics without per-user values (coverage,
personalization) have no interval.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine import metrics as m
from recsys_engine.config import from_dict
from recsys_engine.errors import ConfigError
from recsys_engine.models.base import ProgressFn, Recommender
from recsys_engine.models.data import finite_rows, mask_items, top_k
from recsys_engine.shelf import shelf_metrics
from recsys_engine.split_data import SplitData, load_split_data

__all__ = ["EvalOptions", "EvaluationResult", "SplitData", "evaluate", "load_split_data"]

DEFAULT_KS = (5, 10, 20)
#: Length of the stored top-K list of every test user (metric@K curves up to 50).
RECOMMENDATION_DEPTH = 50
# evaluation info "test_history": what test users were scored from (runs evaluated
# before this protocol were scored from the training fold only: "train")
TEST_HISTORY = "train+validation"
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class EvalOptions:
    """How a run is evaluated (stored with the run as ``options``).

    Attributes:
        ks: cut-offs; recommendations are stored for max(max(ks), RECOMMENDATION_DEPTH).
        positive_threshold: when set, only interactions with rating ≥ threshold are
            positives, for training and for test relevance.
        batch_size: users scored at once (memory ∝ batch_size × n_items).
    """

    ks: tuple[int, ...] = DEFAULT_KS
    positive_threshold: float | None = None
    batch_size: int = 1024

    def __post_init__(self) -> None:
        ks = tuple(self.ks) if isinstance(self.ks, list | tuple) else (self.ks,)
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
            raise ConfigError(f"ks must be positive integers (got {self.ks!r})")
        object.__setattr__(self, "ks", tuple(sorted(set(ks))))
        t = self.positive_threshold
        if t is not None and (isinstance(t, bool) or not isinstance(t, int | float)):
            raise ConfigError(f"positive_threshold must be a number or null (got {t!r})")
        b = self.batch_size
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ConfigError(f"batch_size must be a positive integer (got {b!r})")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EvalOptions:
        """Build from a dict; unknown keys are errors."""
        return from_dict(cls, data, what="evaluation option")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ks"] = list(self.ks)
        return out


@dataclass
class EvaluationResult:
    """Per-user and aggregate results of one evaluation.

    Attributes:
        user_ids: test users (string ids), the row order of every per-user array.
        per_user: {(metric, k): values} for every test user (unscorable users are 0).
        beyond: {(metric, k): values} per user with NaN for users without a list.
        globals_: {(metric, k): value} for coverage and personalization.
        rating: {"rmse": value, "mae": value} for rating models on explicit data.
        top_items / top_scores: n_test_users × K_max lists (-1 / -inf when absent).
        scorable: whether the model could score each test user.
        info: counts (test users, unscorable, unseen users/items) and timings.
    """

    user_ids: np.ndarray
    per_user: dict[tuple[str, int], np.ndarray]
    beyond: dict[tuple[str, int], np.ndarray]
    globals_: dict[tuple[str, int], float]
    rating: dict[str, float]
    top_items: np.ndarray
    top_scores: np.ndarray
    scorable: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def metrics_frame(self) -> pd.DataFrame:
        """Rows (metric, k, value, ci_low, ci_high) for the ``metrics`` table."""
        rows = []
        for (name, k), values in {**self.per_user, **self.beyond}.items():
            mean, low, high = mean_ci(values[np.isfinite(values)])
            rows.append((name, k, mean, low, high))
        for (name, k), value in self.globals_.items():
            rows.append((name, k, value, None, None))
        for name, value in self.rating.items():
            rows.append((name, None, value, None, None))
        frame = pd.DataFrame(rows, columns=["metric", "k", "value", "ci_low", "ci_high"])
        frame["k"] = frame["k"].astype("Int64")
        for col in ("value", "ci_low", "ci_high"):  # missing values become SQL NULL
            frame[col] = pd.array(frame[col], dtype="Float64")
        return frame

    def user_metrics_frame(self) -> pd.DataFrame:
        """Rows (user_id, metric, k, value): every test user for accuracy metrics, users
        with a list for novelty/ARP."""
        parts = []
        for (name, k), values in {**self.per_user, **self.beyond}.items():
            keep = np.isfinite(values)
            parts.append(
                pd.DataFrame(
                    {
                        "user_id": self.user_ids[keep],
                        "metric": name,
                        "k": k,
                        "value": values[keep],
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    def recommendations_frame(self, item_ids: np.ndarray) -> pd.DataFrame:
        """Rows (user_id, rank, item_id, score): the top-K_max list of every scored user."""
        n, k = self.top_items.shape
        valid = self.top_items >= 0
        ranks = np.broadcast_to(np.arange(1, k + 1), (n, k))
        users = np.broadcast_to(self.user_ids[:, None], (n, k))
        return pd.DataFrame(
            {
                "user_id": users[valid],
                "rank": ranks[valid].astype(np.int32),
                "item_id": np.asarray(item_ids, dtype=object)[self.top_items[valid]],
                "score": self.top_scores[valid].astype(np.float64),
            }
        )

    def metric_dict(self) -> dict[str, float]:
        """Means keyed like ``"ndcg@10"`` (``"rmse"`` for metrics without K)."""
        out = {}
        for row in self.metrics_frame().itertuples(index=False):
            key = row.metric if pd.isna(row.k) else f"{row.metric}@{int(row.k)}"
            out[key] = None if pd.isna(row.value) else float(row.value)
        return out


def mean_ci(values: np.ndarray) -> tuple[float, float | None, float | None]:
    """Mean and normal-approximation 95% CI (mean ± 1.96·sd/√n); no CI below 2 values."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), None, None
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    half = _Z95 * float(values.std(ddof=1)) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def evaluate(
    model: Recommender,
    data: SplitData,
    options: EvalOptions | None = None,
    on_progress: ProgressFn | None = None,
    item_vectors: np.ndarray | sp.spmatrix | None = None,
) -> EvaluationResult:
    """Full-ranking evaluation of a fitted model on a split's test fold.

    Args:
        model: fitted on ``data.train``.
        data: from ``load_split_data``.
        options: cut-offs and batch size.
        on_progress: called after each batch as (users done, users total, info).
        item_vectors: content vectors for ILD@K (skipped when None).
    """
    opts = options or EvalOptions()
    t0 = time.perf_counter()
    # Lists are kept to RECOMMENDATION_DEPTH (at least the largest K) so metric@K curves up
    # to K = 50 can be drawn later from the stored recommendations.
    kmax = max(max(opts.ks), RECOMMENDATION_DEPTH)
    train, test = data.train.matrix, data.test
    inputs = data.inputs_for(model)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    n = len(users)
    top_items = np.full((n, kmax), -1, dtype=np.int64)
    top_scores = np.full((n, kmax), -np.inf, dtype=np.float32)
    scorable = np.zeros(n, dtype=bool)
    hits = np.zeros((n, kmax), dtype=bool)
    # order-aware models score each test user's history in time order
    recency = data.input_recency() if model.needs_order and data.train.has_order else None
    # context-aware models score each test user in the context of their (first) test event
    contexts = data.test_user_context(users) if model.uses_context else None
    # one users × catalogue block of scores for every batch (``reusing_score_block``)
    with model.reusing_score_block():
        for start in range(0, n, opts.batch_size):
            stop = min(start + opts.batch_size, n)
            batch = users[start:stop]
            histories = inputs[batch]
            order = None if recency is None else recency[batch]
            if contexts is None:
                scores = np.asarray(model.score_in_order(histories, order), dtype=np.float32)
            else:
                scores = np.asarray(
                    model.score_in_context(histories, order, contexts[start:stop]),
                    dtype=np.float32,
                )
            ok = model.can_score(histories) & finite_rows(scores)
            mask_items(scores, data.seen[batch])
            items, best = top_k(scores, kmax)
            items[~ok] = -1
            best[~ok] = -np.inf
            top_items[start:stop], top_scores[start:stop], scorable[start:stop] = items, best, ok
            hits[start:stop] = m.hit_matrix(items, test[batch])
            if on_progress is not None:
                on_progress(stop, n, {"stage": "evaluate"})
    n_rel = np.diff(test.indptr)[users]
    per_user = m.ranking_metrics(hits, n_rel, opts.ks)
    popularity = np.bincount(sp.csr_matrix(train).indices, minlength=train.shape[1])
    beyond: dict[tuple[str, int], np.ndarray] = {}
    globals_: dict[tuple[str, int], float] = {}
    for k in opts.ks:
        beyond[("novelty", k)] = m.novelty_at_k(top_items, popularity, train.shape[0], k)
        beyond[("arp", k)] = m.arp_at_k(top_items, popularity, k)
        if item_vectors is not None:
            beyond[("ild", k)] = m.ild_at_k(top_items, item_vectors, k)
        globals_[("coverage", k)] = m.coverage_at_k(top_items, train.shape[1], k)
        globals_[("personalization", k)] = m.personalization_at_k(top_items, k)
    rating = _rating_metrics(model, data)
    beyond.update(shelf_metrics(model, data, users, opts.ks, opts.batch_size, recency, contexts))
    train_users = np.diff(train.indptr) > 0
    train_items = popularity > 0
    test_items = np.unique(test.indices)
    info = {
        "test_users": int(n),
        "unscorable_users": int((~scorable).sum()),
        "test_users_unseen": int((~train_users[users]).sum()),
        "test_items": int(len(test_items)),
        "test_items_unseen": int((~train_items[test_items]).sum()),
        "ks": list(opts.ks),
        "test_history": TEST_HISTORY if data.history is not None else "train",
        "test_context": "first test event" if contexts is not None else None,
        "seconds": time.perf_counter() - t0,
    }
    return EvaluationResult(
        user_ids=np.asarray(data.train.user_ids, dtype=object)[users],
        per_user=per_user,
        beyond=beyond,
        globals_=globals_,
        rating=rating,
        top_items=top_items,
        top_scores=top_scores,
        scorable=scorable,
        info=info,
    )


def _rating_metrics(model: Recommender, data: SplitData) -> dict[str, float]:
    if not model.predicts_ratings or data.test_ratings is None or data.test_ratings.nnz == 0:
        return {}
    coo = data.test_ratings.tocoo()
    pred = model.predict_ratings(coo.row, data.inputs_for(model)[coo.row], coo.col)
    return {"rmse": m.rmse(pred, coo.data), "mae": m.mae(pred, coo.data)}
