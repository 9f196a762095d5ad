"""The numpy side of a context-aware model (issue 18, ``use_context``), shared by the
history-pooled towers (``pooled``) and the sequence models (``sequence``).

Such a model adds Σ_f E_f[c_f] — one learned vector per (context field, code) of the event
it predicts, E_f[0] = 0 — to the representation that scores the items, so

    score(h, c, i) = score(h, i) + ⟨Σ_f E_f[c_f], v_out_i⟩

and the **neutral context** (every code 0) gives exactly the context-blind score.
``ContextScoring`` holds what every such model needs outside Keras: the opt-in check
(``use_context`` on data without context is refused), the validation users' context, the
context vector of given codes, and the tables plus the vocabulary saved with the model.
Training replaces each field of a target's context by unknown with probability
``CONTEXT_DROPOUT``, which trains the neutral vector's meaning (no context) as well.
"""

from __future__ import annotations

import numpy as np

from recsys_engine.errors import ConfigError
from recsys_engine.models.data import TrainData
from recsys_engine.models.event_context import ContextVocab, EventContext, check_context_codes

#: Probability of dropping each context field of a training target (trains "unknown").
CONTEXT_DROPOUT = 0.1


def drop_context(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``codes`` with each code set to unknown (0) with probability
    ``CONTEXT_DROPOUT`` (one epoch's draw)."""
    out = np.array(codes, dtype=np.int32, copy=True)
    out[rng.random(out.shape) < CONTEXT_DROPOUT] = 0
    return out


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
    """Mixin of a context-aware ``Recommender``: the context part in numpy — the opt-in
    check, the context vectors of given codes, and the arrays saved with the model (the
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
