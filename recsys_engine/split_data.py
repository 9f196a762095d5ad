"""A stored split as the matrices models learn from and are scored with (DESIGN §5).

``load_split_data`` reads a split's coded interactions once and builds the training fold
(``TrainData``, with time order, context codes and the item content of the training fold),
the validation and test folds, what to exclude from rankings, and the histories test users
are scored from. ``SplitData`` holds them and says which history each use sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.item_content import split_item_content
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import TrainData, ordered_histories, recency_matrix
from recsys_engine.models.event_context import EventContext, fold_contexts
from recsys_engine.store import Store


@dataclass
class SplitData:
    """A stored split as matrices over the dataset's user × item indexes.

    Attributes:
        train: what models learn from (train fold positives, validation fold attached).
        seen: every train and validation interaction (excluded from rankings).
        test: relevant test items (1.0 per stored entry).
        test_ratings: ratings of the test interactions (explicit data) or None.
        seen_train: every train interaction (excluded when evaluating on validation).
        history: what each user did before the test events — the train and validation
            folds (positives) — the input a model scores test users from; None means
            the training fold only.
        history_sequence: ``history`` in time order (indptr, items) as
            ``TrainData.sequence_*``, or None when the order is unknown.
        test_context: the context codes of every test event (``EventContext``, sorted by
            user then time), or None when the dataset has no context. A context-aware
            model scores each test user in the context of their first test event — on
            leave-last-1 exactly the test event's own context (``test_user_context``).

    The validation fold is held out while a model *learns* (early stopping, tuning), but
    at test time those events have happened: a user's most recent interaction before a
    leave-last test event is the validation event, and an order-aware model that could
    not see it would be judged on stale input. Every model is scored from the same
    ``history``, so comparisons stay fair (``evaluation.TEST_HISTORY`` names the protocol in each
    run's evaluation info).
    """

    train: TrainData
    seen: sp.csr_matrix
    test: sp.csr_matrix
    test_ratings: sp.csr_matrix | None = None
    seen_train: sp.csr_matrix | None = None
    history: sp.csr_matrix | None = None
    history_sequence: tuple[np.ndarray, np.ndarray] | None = None
    test_context: EventContext | None = None

    def test_user_context(self, users: np.ndarray) -> np.ndarray | None:
        """Context codes (len(users) × fields) each of ``users`` is scored in: that of
        their first test event; None without context."""
        if self.test_context is None:
            return None
        return self.test_context.first_per_user(self.train.n_users)[np.asarray(users)]

    @property
    def inputs(self) -> sp.csr_matrix:
        """The histories test users are scored from (``history``, else the train fold)."""
        return self.history if self.history is not None else self.train.matrix

    def inputs_for(self, model: Recommender) -> sp.csr_matrix:
        """The histories ``model`` scores test users from: ``inputs``, except for models
        that recognise a user only by their exact training history
        (``knows_users_by_training_history``), which get the training fold."""
        by_training = getattr(model, "knows_users_by_training_history", False)  # duck types
        return self.train.matrix if by_training else self.inputs

    def input_recency(self) -> sp.csr_matrix:
        """Recency ranks of ``inputs`` (``TrainData.recency`` over the same events).

        Raises:
            ConfigError: the order is unknown.
        """
        if self.history is None or self.history_sequence is None:
            return self.train.recency()
        indptr, items = self.history_sequence
        return recency_matrix(indptr, items, self.train.n_items)

    def validation_view(self) -> SplitData:
        """The same split with the validation fold as test (for tuning, early stopping);
        only training interactions are excluded."""
        if self.train.validation is None or self.train.validation.nnz == 0:
            raise ConfigError(
                "this split has no validation fold; create one with a validation fraction"
            )
        seen = self.seen_train if self.seen_train is not None else self.train.matrix
        # history=None: validation users are scored from the training fold only
        return SplitData(
            train=self.train,
            seen=seen,
            test=self.train.validation,
            test_context=self.train.validation_context,
        )


def sorted_csr(
    users: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """The CSR matrix of the entries ``(users[k], items[k]) = values[k]``, with sorted
    indices. ``coded_interactions`` returns its rows ordered by (user, item) with each pair
    once, so the matrix is laid out directly from them (one pass, ~0.2 s for 16M entries);
    any other input goes through scipy's conversion (which sums repeated pairs; ~1 s per
    matrix at that size, seven matrices a split)."""
    key = users * shape[1] + items
    if len(key) > 1 and not (np.diff(key) > 0).all():
        out = sp.csr_matrix((values, (users, items)), shape=shape)
        out.sort_indices()
        return out
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=shape[0]), out=indptr[1:])
    out = sp.csr_matrix((values, np.asarray(items), indptr), shape=shape)
    out.has_sorted_indices = True
    return out


def load_split_data(
    store: Store, split_id: int, positive_threshold: float | None = None
) -> SplitData:
    """Matrices of a stored split (train/validation/test folds over the whole catalogue),
    with each user's training interactions in time order when the dataset has timestamps
    (``TrainData.sequence_*``; order-aware models learn from and score with them)."""
    split = store.get_split(split_id)
    a = store.coded_interactions(split["dataset_id"], split_id)
    shape = (len(a["user_ids"]), len(a["item_ids"]))
    fold = a["fold"]
    positive = np.ones(len(fold), dtype=bool)
    if positive_threshold is not None:
        if np.isnan(a["rating"]).all():
            raise ConfigError(
                f"positive_threshold={positive_threshold!r} needs ratings, and dataset "
                f"{split['dataset_id']} has none"
            )
        positive = a["rating"] >= float(positive_threshold)

    def csr(mask: np.ndarray, values: np.ndarray | None = None) -> sp.csr_matrix:
        vals = np.ones(mask.sum()) if values is None else values[mask]
        return sorted_csr(a["user"][mask], a["item"][mask], vals.astype(np.float32), shape)

    has_ratings = not np.isnan(a["rating"]).all()
    # item content: the item file plus review text of the training fold only
    items = split_item_content(store, split["dataset_id"], split_id)
    in_train = (fold == 0) & positive
    seq_indptr, seq_items = ordered_histories(
        a["user"][in_train], a["item"][in_train], a["ts"][in_train], shape[0]
    )
    contexts = fold_contexts(store.context_values(split["dataset_id"]), a, in_train, positive)
    train = TrainData(
        matrix=csr(in_train, a["weight"]),
        user_ids=a["user_ids"],
        item_ids=a["item_ids"],
        validation=csr((fold == 1) & positive, a["weight"]),
        ratings=csr((fold == 0) & np.isfinite(a["rating"]), a["rating"]) if has_ratings else None,
        items=items,
        sequence_indptr=seq_indptr,
        sequence_items=seq_items,
        split_strategy=split.get("strategy"),
        context=contexts[0],
        validation_context=contexts[1],
    )
    test_rated = (fold == 2) & np.isfinite(a["rating"])
    before_test = (fold < 2) & positive
    history_sequence = ordered_histories(
        a["user"][before_test], a["item"][before_test], a["ts"][before_test], shape[0]
    )
    return SplitData(
        train=train,
        seen=csr(fold < 2),
        test=csr((fold == 2) & positive),
        test_ratings=csr(test_rated, a["rating"]) if has_ratings else None,
        seen_train=csr(fold == 0),
        history=csr(before_test, a["weight"]),
        history_sequence=None if history_sequence[0] is None else history_sequence,
        test_context=contexts[2],
    )
