"""The Keras side of event context (issue 18), shared by every context-aware network.

A context-aware layer holds one trainable table per context field (codes × dim,
``event_context``) and adds Σ_f E_f[c_f] to the representation of the event it predicts:
the user vector of the pooled towers (``keras_layers.PooledTowers``), the predicting
positions of a sequence network (``sequence_layers.SequenceNetwork``). Code 0 — unknown,
and the neutral context explanations compare against — adds nothing, whatever row 0 of a
table learned. Only imported by modules that import TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from keras import ops


def context_sum(tables: Sequence, codes):
    """Σ_f E_f[c_f] for int codes ``(..., fields)`` (any leading shape, e.g. batch or
    batch × positions): ``(..., dim)``; a code 0 adds nothing."""
    codes = ops.cast(codes, "int32")
    total = 0.0
    for f, table in enumerate(tables):
        c = codes[..., f]
        total = total + ops.take(table, c, axis=0) * ops.expand_dims(
            ops.cast(c > 0, table.dtype), -1
        )
    return total


def stacked_context_tables(tables: Sequence, sizes: Sequence[int], dim: int) -> dict:
    """The tables as numpy for scoring outside Keras: ``ctx_table`` (Σ sizes × dim, the
    fields' tables stacked with each row 0 zeroed: the unknown value adds nothing) and
    ``ctx_sizes`` (codes per field); an empty table for a context-blind layer."""
    stacked = []
    for t in tables:
        a = np.array(t, dtype=np.float32)
        a[0] = 0.0
        stacked.append(a)
    return {
        "ctx_table": np.concatenate(stacked) if stacked else np.zeros((0, dim), np.float32),
        "ctx_sizes": np.asarray(list(sizes), dtype=np.int64),
    }
