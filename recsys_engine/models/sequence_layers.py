"""Registered Keras 3 layers of the sequence models (``sasrec``, ``gru4rec``).

Only imported by the sequence model modules (it imports TensorFlow). Every layer has a
``get_config`` and is registered under the ``recsys`` package, so ``.keras`` files load with
``safe_mode=True`` once this module is imported — no ``Lambda`` layers.

A sequence reaches the model as ``sequence`` (batch × T int32): item index + 1, left-padded
with 0, the most recent item at the last position T − 1. ``SequenceNetwork`` embeds it,
encodes it (causal self-attention blocks or a GRU, each followed by a layer norm) into one
vector per position, and scores position t's vector against the item embedding (shared
between input and output): position t predicts the item at t + 1. Training uses every
position:

- ``softmax``: logits over the whole catalogue at every position (batch × T × n_items);
- ``sampled_softmax``: the targets of the batch's real positions are the negatives of one
  another (N × N, log-Q corrected, accidental hits removed; ``sampled_softmax``).

Context (``context_sizes``, issue 18): ``SequenceNetwork.predictor`` is the representation
of the predicting positions; with context fields it adds Σ_f E_f[c_f] of the codes of the
event each position predicts (input ``context``, batch × T × fields; ``context_layers``),
E_f[0] = 0 for the unknown / neutral value.

Item content (``n_features``, issue 18): an item's vector is then its ID embedding (items
with training interactions only, ``id_mask``) plus a linear projection of its sparse
content features, so an item nobody interacted with in training is scored from its
content. Such items are left out of the training softmax's denominator: they were not on
offer, and their absence is no evidence against the content they share with others.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from recsys_engine.models.context_layers import context_sum
from recsys_engine.models.sampled_softmax import log_q_corrected, remove_accidental_hits

PACKAGE = "recsys"
ENCODERS = ("attention", "gru")
MODES = ("softmax", "sampled_softmax")


@keras.saving.register_keras_serializable(package=PACKAGE)
class CausalBlock(keras.layers.Layer):
    """One pre-norm transformer block: x + MHA(LN x) with a causal and padding mask, then
    x + FFN(LN x); padded positions are zeroed after each half."""

    def __init__(self, dim: int, heads: int = 1, dropout: float = 0.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.dropout, self.seed = (
            int(dim),
            int(heads),
            float(dropout),
            int(seed),
        )
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.attention = keras.layers.MultiHeadAttention(
            self.heads,
            -(-self.dim // self.heads),
            dropout=self.dropout,
            seed=self.seed,
            name="attention",
        )
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.ffn1 = keras.layers.Dense(self.dim, activation="relu", name="ffn1")
        self.ffn2 = keras.layers.Dense(self.dim, name="ffn2")
        self.drop = keras.layers.Dropout(self.dropout, seed=self.seed)

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, heads=self.heads, dropout=self.dropout, seed=self.seed)
        return config

    def build(self, input_shape=None):
        shape = (None, None, self.dim)
        self.norm1.build(shape)
        self.attention.build(shape, shape)
        self.norm2.build(shape)
        self.ffn1.build(shape)
        self.ffn2.build(shape)

    def call(self, x, keep, training=False):
        """``x`` batch × T × dim, ``keep`` batch × T (1 real, 0 padding)."""
        h = self.norm1(x)
        pad = ops.cast(keep[:, None, :] > 0, "bool")  # keys that are real items
        a = self.attention(h, h, attention_mask=pad, use_causal_mask=True, training=training)
        x = (x + self.drop(a, training=training)) * keep[:, :, None]
        f = self.ffn2(self.drop(self.ffn1(self.norm2(x)), training=training))
        return (x + self.drop(f, training=training)) * keep[:, :, None]


@keras.saving.register_keras_serializable(package=PACKAGE)
class SequenceNetwork(keras.layers.Layer):
    """Item embedding + sequence encoder + shared-embedding head.

    Args:
        n_items: catalogue size (embedding rows are n_items + 1: row 0 is padding).
        dim: embedding and hidden size.
        max_len: positions (learned position embedding for ``attention``).
        encoder: ``attention`` (SASRec) or ``gru`` (GRU4Rec).
        blocks: transformer blocks (``attention``) or stacked GRU layers (``gru``).
        heads: attention heads.
        dropout: dropout on embeddings, attention and block outputs.
        l2: L2 penalty on the item embedding.
        mode: ``softmax`` or ``sampled_softmax`` (training head; scoring is the same).
        seed: seed of dropout.
        context_sizes: codes per context field (empty = context-blind).
        n_features: columns of the item content matrix (0 = ID embedding only).
        content_nnz: stored entries of the item content matrix.
        output_norm: layer-normalise the GRU's output (``gru``; the attention encoder
            always ends with one). The GRU's state is tanh-bounded (each coordinate in
            (−1, 1)) and the output is scored against the input embedding without a bias,
            so without it the logits' range is capped by the embedding's norm, which also
            feeds the GRU: on a 9.7k-item catalogue that kept the softmax near uniform and
            the model near popularity (BENCHMARKS.md, issue 18). False only for ``.keras``
            files saved before it existed (2026-12-05), which load as they were trained.
    """

    def __init__(
        self,
        n_items: int,
        dim: int = 64,
        max_len: int = 50,
        encoder: str = "attention",
        blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        l2: float = 0.0,
        mode: str = "softmax",
        seed: int = 0,
        context_sizes: tuple[int, ...] | list[int] = (),
        n_features: int = 0,
        content_nnz: int = 0,
        output_norm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS} (got {encoder!r})")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
        self.n_items, self.dim, self.max_len = int(n_items), int(dim), int(max_len)
        self.encoder, self.blocks, self.heads = encoder, int(blocks), int(heads)
        self.dropout, self.l2, self.mode, self.seed = float(dropout), float(l2), mode, int(seed)
        self.context_sizes = [int(n) for n in context_sizes]
        self.n_features, self.content_nnz = int(n_features), int(content_nnz)
        self.output_norm = bool(output_norm) or encoder == "attention"
        self.drop = keras.layers.Dropout(self.dropout, seed=self.seed)
        if encoder == "attention":
            self.layers_ = [
                CausalBlock(self.dim, self.heads, self.dropout, self.seed + b, name=f"block{b}")
                for b in range(self.blocks)
            ]
        else:
            self.layers_ = [
                keras.layers.GRU(self.dim, return_sequences=True, name=f"gru{b}")
                for b in range(self.blocks)
            ]
        if self.output_norm:
            self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")

    def get_config(self):
        config = super().get_config()
        config.update(
            n_items=self.n_items,
            dim=self.dim,
            max_len=self.max_len,
            encoder=self.encoder,
            blocks=self.blocks,
            heads=self.heads,
            dropout=self.dropout,
            l2=self.l2,
            mode=self.mode,
            seed=self.seed,
            context_sizes=list(self.context_sizes),
            n_features=self.n_features,
            content_nnz=self.content_nnz,
            output_norm=self.output_norm,
        )
        return config

    def build(self, input_shape=None):
        reg = keras.regularizers.L2(self.l2) if self.l2 > 0 else None
        init = keras.initializers.RandomNormal(stddev=0.05)
        self.item_embedding = self.add_weight(
            (self.n_items + 1, self.dim), init, name="item_embedding", regularizer=reg
        )
        if self.encoder == "attention":
            self.position_embedding = self.add_weight(
                (self.max_len, self.dim), init, name="position_embedding"
            )
            for block in self.layers_:
                block.build(None)
        else:
            for gru in self.layers_:
                gru.build((None, None, self.dim))
        if self.output_norm:
            self.final_norm.build((None, None, self.dim))
        self.log_q = self.add_weight((self.n_items,), "zeros", name="log_q", trainable=False)
        self.context_tables = [
            self.add_weight((size, self.dim), init, name=f"context_{f}")
            for f, size in enumerate(self.context_sizes)
        ]
        if self.n_features:
            self.content_projection = self.add_weight(
                (self.n_features, self.dim), init, name="content_projection", regularizer=reg
            )
            nnz = self.content_nnz
            self.feature_indices = self.add_weight(
                (nnz, 2), "zeros", dtype="int64", name="feature_indices", trainable=False
            )
            self.feature_values = self.add_weight(
                (nnz,), "zeros", name="feature_values", trainable=False
            )
            self.id_mask = self.add_weight((self.n_items,), "ones", name="id_mask", trainable=False)

    def set_log_q(self, log_q: np.ndarray) -> None:
        """The log share of each item among the training targets (sampled softmax)."""
        self.log_q.assign(np.asarray(log_q, dtype=np.float32))

    def set_content(self, features, id_mask: np.ndarray) -> None:
        """Assign the item content matrix (CSR n_items × n_features) and the mask of items
        with training interactions after ``build``."""
        coo = features.tocoo()
        order = np.lexsort((coo.col, coo.row))
        idx = np.stack([coo.row[order], coo.col[order]], axis=1).astype(np.int64)
        self.feature_indices.assign(idx)
        self.feature_values.assign(coo.data[order].astype(np.float32))
        self.id_mask.assign(np.asarray(id_mask, dtype=np.float32))

    def item_table(self):
        """Vectors of the padding row and the catalogue ((n_items + 1) × dim): the ID
        embedding, plus the content projection when the network has content."""
        if not self.n_features:
            return self.item_embedding
        x = tf.sparse.SparseTensor(
            self.feature_indices,
            self.feature_values,
            dense_shape=(self.n_items, self.n_features),
        )
        items = self.item_embedding[1:] * self.id_mask[:, None]
        items = items + tf.sparse.sparse_dense_matmul(x, self.content_projection)
        return ops.concatenate([ops.zeros_like(self.item_embedding[:1]), items], axis=0)

    def hidden(self, sequence, training=False, table=None):
        """One vector per position (batch × T × dim); position t sees positions ≤ t only.
        ``table``: ``item_table()`` when the caller has it already."""
        sequence = ops.cast(sequence, "int32")
        keep = ops.cast(sequence > 0, "float32")
        x = ops.take(self.item_table() if table is None else table, sequence, axis=0)
        if self.encoder == "attention":
            t = ops.shape(sequence)[1]
            x = x * (self.dim**0.5) + self.position_embedding[self.max_len - t :][None]
            x = self.drop(x, training=training) * keep[:, :, None]
            for block in self.layers_:
                x = block(x, keep, training=training)
            return self.final_norm(x) * keep[:, :, None]
        x = self.drop(x, training=training)
        mask = sequence > 0
        for gru in self.layers_:
            x = self.drop(gru(x, mask=mask, training=training), training=training)
        if self.output_norm:
            x = self.final_norm(x)
        return x * keep[:, :, None]

    def predictor(self, hidden, context=None):
        """The representation that scores the next item at each position: the hidden
        state plus Σ_f E_f[c_f] of ``context`` (batch × T × fields codes of the event each
        position predicts) when the network has context fields."""
        if context is None or not self.context_sizes:
            return hidden
        return hidden + context_sum(self.context_tables, context)

    def outputs(self):
        """Output vectors of the catalogue (n_items × dim; the input embedding's rows)."""
        return self.item_table()[1:]

    def last(self, sequence):
        """The predicting vector of the last position (batch × dim), inference mode, in
        the neutral context (the model adds the context vector of the event it scores)."""
        return self.predictor(self.hidden(sequence, training=False))[:, -1, :]

    def call(self, inputs, training=False):
        table = self.item_table()
        h = self.predictor(
            self.hidden(inputs["sequence"], training=training, table=table),
            inputs.get("context"),
        )
        v = table[1:]
        if self.mode == "softmax":
            logits = ops.matmul(h, ops.transpose(v))
            if training and self.n_features:  # items not on offer in training
                logits = logits + _NOT_OFFERED * (1.0 - self.id_mask)
            return logits
        target = ops.cast(inputs["target"], "int32")  # item + 1, 0 = padding
        real = target > 0
        flat_h = tf.boolean_mask(h, real)
        flat_t = tf.boolean_mask(target, real) - 1
        logits = ops.matmul(flat_h, ops.transpose(ops.take(v, flat_t, axis=0)))
        logits = log_q_corrected(logits, ops.take(self.log_q, flat_t))
        no_history = ops.zeros_like(logits, dtype="bool")
        return remove_accidental_hits(logits, flat_t, no_history)


#: Logit offset of items without training interactions in the training softmax (≈ −∞).
_NOT_OFFERED = -1e9


def position_softmax_loss(y_true, y_pred):
    """Full-softmax cross-entropy summed over each sequence's real positions (target 0 =
    padding contributes nothing); y_true batch × T of item + 1."""
    y = ops.cast(y_true, "int32")
    real = ops.cast(y > 0, y_pred.dtype)
    ce = keras.losses.sparse_categorical_crossentropy(
        ops.maximum(y - 1, 0), y_pred, from_logits=True
    )
    return ops.sum(ce * real, axis=1)
