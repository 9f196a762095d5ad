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

A sequence model plugs in the same way: ``context_vector`` of the codes of the event at
its predicting position, added to the hidden state there.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models.data import TrainData
from recsys_engine.models.event_context import ContextVocab, EventContext, check_context_codes
from recsys_engine.models.pooled_examples import _masked, padded_history

#: Probability of dropping each context field of a training target (trains "unknown").
CONTEXT_DROPOUT = 0.1


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
        self.rows = np.repeat(np.arange(self.x.shape[0]), lengths)
        self.codes = context.lookup(users[self.rows], self.x.indices)
        # a fixed number of inputs per user keeps the number of target rows constant
        self.n_in = np.clip(np.round(input_fraction * lengths), 1, lengths - 1).astype(np.int64)
        self.mode = mode
        self.inputs = None
        self.ev_rows = self.ev_items = self.ev_codes = self.negative = None

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
        codes = self.codes[target].copy()
        codes[rng.random(codes.shape) < CONTEXT_DROPOUT] = 0
        self.ev_codes = codes
        self.negative = rng.integers(0, x.shape[1], len(self.ev_rows)).astype(np.int32)
        return len(self.ev_rows)

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


def context_vector(table: np.ndarray, sizes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Σ_f E_f[c_f] per row (n × d) from the stacked per-field tables (row 0 of each
    field's block is the zero vector of the unknown value).

    Raises:
        ConfigError: codes of the wrong shape or out of range.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    codes = np.asarray(codes)
    n = codes.shape[0] if codes.ndim == 2 else 1
    codes = check_context_codes(codes, tuple(int(s) for s in sizes), n)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros((n, table.shape[1]), dtype=np.float32)
    for f in range(len(sizes)):
        out += table[offsets[f] + codes[:, f]]
    return out


class ContextScoring:
    """Mixin of ``PooledHistoryModel``: the context part of the user tower in numpy —
    the opt-in check, scoring in a context, and the arrays saved with the model (the
    tables and the vocabulary, so a loaded model maps context values to codes)."""

    config: object
    ctx_table: np.ndarray | None = None
    ctx_sizes: np.ndarray | None = None
    context_vocab: ContextVocab | None = None

    @property
    def uses_context(self) -> bool:
        """Whether the model was trained with ``use_context`` (and has its tables)."""
        return (
            bool(getattr(self.config, "use_context", False))
            and self.ctx_sizes is not None
            and len(self.ctx_sizes) > 0
        )

    def _training_context(self, train: TrainData) -> EventContext | None:
        """The training events' context when ``use_context`` is on (None when off).

        Raises:
            ConfigError: ``use_context`` is on and the data has no context.
        """
        if not getattr(self.config, "use_context", False):
            return None
        if not train.has_context:
            raise ConfigError(
                "use_context is on, but this dataset has no context: upload the "
                "interactions with columns mapped as context (device, country, ...) or "
                "with derived hour/weekday, or turn use_context off"
            )
        self.context_vocab = train.context.vocab
        return train.context

    def _validation_codes(self, train: TrainData) -> np.ndarray | None:
        """Per user, the codes of their first validation event (early stopping scores
        each validation user in that context); None without context."""
        if not self.uses_context and self.context_vocab is None:
            return None
        if train.validation_context is None:
            return None
        return train.validation_context.first_per_user(train.n_users)

    def context_vectors(self, codes: np.ndarray) -> np.ndarray:
        """Σ_f E_f[c_f] per row (n × d); zero for the neutral context."""
        if self.ctx_table is None or self.ctx_sizes is None:
            raise ConfigError(f"model {getattr(self, 'name', '')!r} was trained without context")
        return context_vector(self.ctx_table, self.ctx_sizes, codes)

    def _context_arrays(self) -> dict[str, np.ndarray]:
        if self.ctx_table is None or self.context_vocab is None:
            return {}
        vocab = self.context_vocab
        return {
            "ctx_table": self.ctx_table,
            "ctx_sizes": np.asarray(self.ctx_sizes, dtype=np.int64),
            "ctx_fields": np.asarray(vocab.fields, dtype=str),
            "ctx_values": np.asarray([v for vs in vocab.values for v in vs], dtype=str),
        }

    def _set_context_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if "ctx_table" not in arrays or len(arrays.get("ctx_sizes", ())) == 0:
            return
        self.ctx_table = np.asarray(arrays["ctx_table"], dtype=np.float32)
        self.ctx_sizes = np.asarray(arrays["ctx_sizes"], dtype=np.int64)
        if "ctx_fields" in arrays:  # the saved vocabulary (the Keras file has none)
            flat = [str(v) for v in arrays["ctx_values"]]
            bounds = np.concatenate([[0], np.cumsum(self.ctx_sizes - 1)])
            values = tuple(
                tuple(flat[bounds[f] : bounds[f + 1]]) for f in range(len(self.ctx_sizes))
            )
            self.context_vocab = ContextVocab(tuple(str(f) for f in arrays["ctx_fields"]), values)
