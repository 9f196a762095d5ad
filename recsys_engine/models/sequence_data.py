"""The arrays a sequence model (``sequence``) trains and scores from (issue 18).

A user is the ordered run of their history items as item index + 1, left-padded with 0
(``sequences``). Training cuts each user's run into windows of ``max_len + 1`` items from
its end (``training_windows``); every position of a window predicts the next item. With
``use_context``, each position also carries the context codes of the event it predicts —
the target's own (``target_context``) — so the model learns which items each context
favours.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models.context_scoring import drop_context
from recsys_engine.models.data import TrainData
from recsys_engine.models.event_context import EventContext


def sequences(histories: sp.csr_matrix, recency: sp.csr_matrix | None, max_len: int) -> np.ndarray:
    """Each history's items oldest → newest as item index + 1, the last ``max_len`` of them,
    left-padded with 0 (n × max_len int32). Without ``recency`` the items go in index order;
    an item without a recency rank counts as the most recent."""
    h = sp.csr_matrix(histories)
    h.sort_indices()
    n = h.shape[0]
    rows = np.repeat(np.arange(n), np.diff(h.indptr))
    rank = np.zeros(len(h.indices), dtype=np.float64)
    if recency is not None:
        r = sp.csr_matrix(recency)
        if r.shape[0] != n:
            raise ConfigError(f"recency must have one row per history ({n}; got {r.shape[0]})")
        rank = np.asarray(r[rows, h.indices]).ravel().astype(np.float64) if len(rows) else rank
    order = np.lexsort((h.indices, -rank, rows))  # per row: oldest first, most recent last
    lengths = np.diff(h.indptr)
    from_end = lengths[rows] - 1 - (np.arange(len(order)) - h.indptr[rows])
    keep = from_end < max_len
    out = np.zeros((n, max_len), dtype=np.int32)
    out[rows[keep], max_len - 1 - from_end[keep]] = h.indices[order][keep] + 1
    return out


def training_windows(
    indptr: np.ndarray, items: np.ndarray, max_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-item targets (each n_windows × max_len, item + 1, 0 = padding) of
    every user's training run cut into windows of ``max_len + 1`` items from its end:
    window input = items[k : k + L], target = items[k + 1 : k + L + 1]."""
    inputs, targets = [], []
    for u in range(len(indptr) - 1):
        run = np.asarray(items[indptr[u] : indptr[u + 1]], dtype=np.int64) + 1
        end = len(run)
        while end >= 2:
            start = max(0, end - max_len - 1)
            window = run[start:end]
            x = np.zeros(max_len, dtype=np.int32)
            y = np.zeros(max_len, dtype=np.int32)
            x[max_len - len(window) + 1 :] = window[:-1]
            y[max_len - len(window) + 1 :] = window[1:]
            inputs.append(x)
            targets.append(y)
            end = start + 1  # the next window ends where this one's first input is
            if start == 0:
                break
    if not inputs:
        return np.zeros((0, max_len), np.int32), np.zeros((0, max_len), np.int32)
    return np.stack(inputs), np.stack(targets)


def target_context(indptr: np.ndarray, codes: np.ndarray, max_len: int) -> np.ndarray:
    """The context codes of each window position's target (n_windows × max_len × fields,
    0 at padding), for the windows ``training_windows`` cuts from the same runs:
    ``codes`` holds one row per training event in the order of the runs
    (``TrainData.context.codes`` next to ``sequence_items``)."""
    codes = np.asarray(codes, dtype=np.int32)
    # the windows of the events' own positions (+ 1) locate each target's event
    _, position = training_windows(indptr, np.arange(len(codes)), max_len)
    out = np.zeros((*position.shape, codes.shape[1]), dtype=np.int32)
    real = position > 0
    out[real] = codes[position[real] - 1]
    return out


class WindowSource:
    """The training windows as ``fit_keras`` examples (the same windows every epoch; with
    ``context``, each target's context codes, a fresh ``drop_context`` draw per epoch)."""

    def __init__(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        sampled: bool,
        context: np.ndarray | None = None,
    ):
        self.inputs, self.targets, self.sampled = inputs, targets, sampled
        self.context = context
        self.epoch_context = context

    def new_epoch(self, rng: np.random.Generator) -> int:
        if self.context is not None:
            self.epoch_context = drop_context(self.context, rng)
        return len(self.inputs)

    def batch(self, index: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        x = {"sequence": self.inputs[index]}
        if self.sampled:
            x["target"] = self.targets[index]
        if self.epoch_context is not None:
            x["context"] = self.epoch_context[index]
        return x, self.targets[index]


def run_context_codes(train: TrainData, context: EventContext) -> np.ndarray:
    """The context codes of every event of the ordered runs (one row per
    ``sequence_items`` entry): ``context.codes`` itself when it holds the same events in
    the same order (``TrainData``'s promise), else looked up per (user, item)."""
    items = np.asarray(train.sequence_items)
    users = np.repeat(np.arange(train.n_users), np.diff(train.sequence_indptr))
    if len(context) == len(items) and np.array_equal(context.items, items):
        if np.array_equal(context.users, users):
            return context.codes
    return context.lookup(users, items)
