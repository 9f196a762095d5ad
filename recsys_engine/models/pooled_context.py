"""The context-aware variant of the history-pooled towers (issue 18, ``use_context``).

The user tower adds one learned vector per (context field, value) of the event it
predicts to the pooled history:

    u(h, c) = pool(h) + Σ_f E_f[c_f],   score(h, c, i) = b_i + ⟨u(h, c), v_out_i⟩

with E_f[0] = 0 for the unknown value, so the **neutral context** (every field unknown)
gives exactly the context-blind score, and the context's share of a score is
⟨Σ_f E_f[c_f], v_out_i⟩ — what ``explain.event_context`` verifies by re-scoring.

Training examples are events: per user and epoch a fixed share of the history (chosen at
random) is pooled as input, and every other event of the user is a target row with its own
context — so the model learns which items each context favours. Each field of a target's
context is replaced by unknown with probability ``CONTEXT_DROPOUT``, which trains the
neutral vector's meaning (no context) as well.

The context tables, their numpy scoring and saving are shared with the sequence models
(``context_scoring.ContextScoring``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_engine.models.context_scoring import drop_context
from recsys_engine.models.event_context import EventContext
from recsys_engine.models.pooled_examples import (
    _masked,
    entry_rows,
    output_reads,
    padded_history,
)


class ContextEventSource:
    """Per-event examples: part of the user's history as input, one other event as the
    target, with that event's context codes."""

    def __init__(self, x: sp.csr_matrix, mode: str, input_fraction: float, context: EventContext):
        x = sp.csr_matrix(x)
        x.sort_indices()
        counts = np.diff(x.indptr)
        self.x = x[counts >= 2]
        self.x.sort_indices()
        users = np.flatnonzero(counts >= 2)
        lengths = np.diff(self.x.indptr)
        self.rows = entry_rows(self.x)
        self.codes = context.lookup(users[self.rows], self.x.indices)
        # a fixed number of inputs per user keeps the number of target rows constant
        self.n_in = np.clip(np.round(input_fraction * lengths), 1, lengths - 1).astype(np.int64)
        self.mode = mode
        self.inputs = None
        self.ev_rows = self.ev_items = self.ev_codes = self.negative = None
        self.n_examples = 0

    def new_epoch(self, rng: np.random.Generator) -> int:
        x, rows = self.x, self.rows
        order = np.lexsort((rng.random(x.nnz), rows))
        rank = np.empty(x.nnz, dtype=np.int64)
        rank[order] = np.arange(x.nnz) - x.indptr[rows[order]]
        is_input = rank < self.n_in[rows]
        self.inputs = _masked(x, is_input)
        target = ~is_input
        self.ev_rows = rows[target]
        self.ev_items = x.indices[target].astype(np.int32)
        self.ev_codes = drop_context(self.codes[target], rng)
        self.negative = rng.integers(0, x.shape[1], len(self.ev_rows)).astype(np.int32)
        self.n_examples = len(self.ev_rows)
        return self.n_examples

    def item_reads(self, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        """Per item, the examples of this epoch that read its input row (it is in the
        pooled history of the event's user: once per event of that user) and its output
        row (the event's item, or a BPR negative other than it)."""
        inputs = self.inputs
        events = np.bincount(self.ev_rows, minlength=inputs.shape[0])
        per_entry = np.repeat(events, np.diff(inputs.indptr))
        positive = inputs.data > 0
        c_in = np.bincount(
            inputs.indices[positive], weights=per_entry[positive], minlength=n_items
        )
        return c_in, output_reads(self.ev_items, self.negative, self.mode, n_items)

    def batch(self, index: np.ndarray):
        items, weights = padded_history(self.inputs[self.ev_rows[index]])
        x = {
            "history_items": items,
            "history_weights": weights,
            "context": self.ev_codes[index],
        }
        if self.mode == "softmax":
            y = np.zeros((len(index), self.x.shape[1]), dtype=np.float32)
            y[np.arange(len(index)), self.ev_items[index]] = 1.0
            return x, y
        x["target"] = self.ev_items[index]
        if self.mode == "bpr":
            x["negative"] = self.negative[index]
            return x, np.ones(len(index), dtype=np.float32)
        return x, np.zeros(len(index), dtype=np.int32)
