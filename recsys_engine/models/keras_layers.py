"""Registered Keras 3 layers of the history-pooled models (two-tower, content, hybrid).

Only imported by the Keras model modules (it imports TensorFlow). Every layer has a
``get_config`` and is registered under the ``recsys`` package, so ``.keras`` files load with
``safe_mode=True`` once this module is imported — no ``Lambda`` layers anywhere.

The item side is computed for the whole catalogue at every step (it is cheap below ~50k
items): item vector = ID embedding (items with training interactions only) ⊕ linear
projection of the item's sparse content features. The user side is the weighted mean of
the history's input item vectors, so scores are additive over history items:
score(h, i) = b_i + Σ_j w̃_j ⟨v_in_j, v_out_i⟩ with w̃ = w / Σw.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

PACKAGE = "recsys"
MODES = ("softmax", "sampled_softmax", "bpr")
POOLINGS = ("mean", "sqrt")
#: Added to the logits of items a row must not predict (its own input history).
_MASK = -1e9


@keras.saving.register_keras_serializable(package=PACKAGE)
class HistoryPooling(keras.layers.Layer):
    """Weighted pooling of item vectors: ``(h @ V) / Σh`` per row (``mean``) or
    ``(h @ V) / √Σh²`` (``sqrt``); empty rows give 0.

    Call with ``[history, vectors]``: history is a dense batch × n_items matrix of
    non-negative weights (0 = not in the history), vectors is n_items × d.
    """

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS} (got {mode!r})")
        self.mode = mode

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}

    def call(self, inputs):
        history, vectors = inputs
        if self.mode == "mean":
            total = ops.sum(history, axis=1, keepdims=True)
        else:
            total = ops.sqrt(ops.sum(history * history, axis=1, keepdims=True))
        return ops.matmul(history, vectors) / ops.maximum(total, 1e-12)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PooledTowers(keras.layers.Layer):
    """Item tower over the whole catalogue + history-pooled user tower + training head.

    Args:
        n_items: catalogue size.
        id_dim: ID-embedding size (0 = no ID part).
        content_dim: content-projection size (0 = no content part).
        n_features: columns of the item feature matrix (content part only).
        content_nnz: stored entries of the item feature matrix.
        mode: ``softmax`` (full catalogue, input items masked; output batch × n_items),
            ``sampled_softmax`` (in-batch, log-Q corrected; batch × batch) or ``bpr``
            (positive minus negative score; batch).
        id_dropout: training-time probability of dropping an item's ID part (helps cold
            items lean on content).
        dropout: training-time dropout on the pooled user vector.
        l2: L2 penalty on embeddings and projections.
        seed: seed of the dropout generators.
        pooling: ``mean`` (weights / Σw) or ``sqrt`` (weights / √Σw²).
    """

    def __init__(
        self,
        n_items: int,
        id_dim: int = 64,
        content_dim: int = 0,
        n_features: int = 0,
        content_nnz: int = 0,
        mode: str = "softmax",
        id_dropout: float = 0.0,
        dropout: float = 0.0,
        l2: float = 0.0,
        seed: int = 0,
        pooling: str = "mean",
        mask_inputs: bool = True,
        item_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES} (got {mode!r})")
        self.n_items = int(n_items)
        self.id_dim = int(id_dim)
        self.content_dim = int(content_dim)
        self.n_features = int(n_features)
        self.content_nnz = int(content_nnz)
        self.mode = mode
        self.id_dropout = float(id_dropout)
        self.dropout = float(dropout)
        self.l2 = float(l2)
        self.seed = int(seed)
        self.pooling_mode = pooling
        self.mask_inputs = bool(mask_inputs)
        self.item_bias = bool(item_bias)
        self.pooling = HistoryPooling(pooling, name="pooling")
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def get_config(self):
        config = super().get_config()
        config.update(
            n_items=self.n_items,
            id_dim=self.id_dim,
            content_dim=self.content_dim,
            n_features=self.n_features,
            content_nnz=self.content_nnz,
            mode=self.mode,
            id_dropout=self.id_dropout,
            dropout=self.dropout,
            l2=self.l2,
            seed=self.seed,
            pooling=self.pooling_mode,
            mask_inputs=self.mask_inputs,
            item_bias=self.item_bias,
        )
        return config

    def build(self, input_shape=None):
        n, reg = self.n_items, keras.regularizers.L2(self.l2) if self.l2 > 0 else None
        emb = keras.initializers.RandomNormal(stddev=0.05)
        if self.id_dim:
            self.id_in = self.add_weight((n, self.id_dim), emb, name="id_in", regularizer=reg)
            self.id_out = self.add_weight((n, self.id_dim), emb, name="id_out", regularizer=reg)
            if self.item_bias:
                self.id_bias = self.add_weight((n,), "zeros", name="id_bias")
            # 1 for items with training interactions: the others have no ID part at all
            self.id_mask = self.add_weight((n,), "ones", name="id_mask", trainable=False)
        if self.content_dim:
            f, d = self.n_features, self.content_dim
            proj = keras.initializers.RandomNormal(stddev=0.05)
            self.content_in = self.add_weight((f, d), proj, name="content_in", regularizer=reg)
            self.content_out = self.add_weight((f, d), proj, name="content_out", regularizer=reg)
            if self.item_bias:
                self.content_bias = self.add_weight((f,), "zeros", name="content_bias")
            nnz = self.content_nnz
            self.feature_indices = self.add_weight(
                (nnz, 2), "zeros", dtype="int64", name="feature_indices", trainable=False
            )
            self.feature_values = self.add_weight(
                (nnz,), "zeros", name="feature_values", trainable=False
            )
        self.log_q = self.add_weight((n,), "zeros", name="log_q", trainable=False)
        self.pooling.build(None)

    def set_catalogue(
        self,
        features=None,
        id_mask: np.ndarray | None = None,
        log_q: np.ndarray | None = None,
    ) -> None:
        """Assign the fixed (non-trainable) catalogue arrays after ``build``."""
        if self.content_dim and features is not None:
            coo = features.tocoo()
            order = np.lexsort((coo.col, coo.row))
            idx = np.stack([coo.row[order], coo.col[order]], axis=1).astype(np.int64)
            self.feature_indices.assign(idx)
            self.feature_values.assign(coo.data[order].astype(np.float32))
        if self.id_dim and id_mask is not None:
            self.id_mask.assign(np.asarray(id_mask, dtype=np.float32))
        if log_q is not None:
            self.log_q.assign(np.asarray(log_q, dtype=np.float32))

    def catalogue(self, training=False):
        """Input vectors, output vectors and bias of every item (ID ⊕ content parts)."""
        ins, outs, bias = [], [], ops.zeros((self.n_items,))
        if self.id_dim:
            keep = self.id_mask
            if training and self.id_dropout > 0:
                draw = keras.random.uniform((self.n_items,), seed=self.seed_generator)
                keep = keep * ops.cast(draw >= self.id_dropout, keep.dtype)
            ins.append(self.id_in * keep[:, None])
            outs.append(self.id_out * keep[:, None])
            if self.item_bias:
                bias = bias + self.id_bias * keep
        if self.content_dim:
            x = tf.sparse.SparseTensor(
                self.feature_indices,
                self.feature_values,
                dense_shape=(self.n_items, self.n_features),
            )
            ins.append(tf.sparse.sparse_dense_matmul(x, self.content_in))
            outs.append(tf.sparse.sparse_dense_matmul(x, self.content_out))
            if self.item_bias:
                bias = bias + tf.sparse.sparse_dense_matmul(x, self.content_bias[:, None])[:, 0]

        def cat(parts):
            return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=1)

        return cat(ins), cat(outs), bias

    def call(self, inputs, training=False):
        history = inputs["history"]
        v_in, v_out, bias = self.catalogue(training)
        user = self.pooling([history, v_in])
        if training and self.dropout > 0:
            user = keras.random.dropout(user, self.dropout, seed=self.seed_generator)
        if self.mode == "softmax":
            logits = ops.matmul(user, ops.transpose(v_out)) + bias[None, :]
            if not self.mask_inputs:
                return logits
            return logits + _MASK * ops.cast(history > 0, logits.dtype)
        target = ops.cast(inputs["target"], "int32")
        t_vec = ops.take(v_out, target, axis=0)
        if self.mode == "bpr":
            negative = ops.cast(inputs["negative"], "int32")
            n_vec = ops.take(v_out, negative, axis=0)
            pos = ops.sum(user * t_vec, axis=1) + ops.take(bias, target)
            neg = ops.sum(user * n_vec, axis=1) + ops.take(bias, negative)
            return pos - neg
        # in-batch sampled softmax with log-Q correction: column j is row j's target
        logits = ops.matmul(user, ops.transpose(t_vec))
        logits = logits + (ops.take(bias, target) - ops.take(self.log_q, target))[None, :]
        # another row's target that is in this row's history, or equals this row's
        # target, is not a negative for this row (the diagonal stays)
        in_history = ops.take(history, target, axis=1) > 0
        same = target[:, None] == target[None, :]
        eye = ops.eye(ops.shape(target)[0], dtype="bool")
        drop = ops.logical_and(ops.logical_or(in_history, same), ops.logical_not(eye))
        return logits + _MASK * ops.cast(drop, logits.dtype)


def in_batch_softmax_loss(y_true, y_pred):
    """Cross-entropy of an in-batch logits matrix whose diagonal holds the positives.

    The labels are derived from ``y_pred``'s own shape (``y_true`` is ignored), so the loss
    stays right when a distribution strategy splits the batch across replicas.
    """
    labels = ops.arange(ops.shape(y_pred)[0])
    return keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)


def catalogue_arrays(layer: PooledTowers) -> dict[str, np.ndarray]:
    """Numpy item vectors and biases (inference mode) plus the size of the ID part."""
    v_in, v_out, bias = layer.catalogue(training=False)
    return {
        "v_in": np.asarray(v_in, dtype=np.float32),
        "v_out": np.asarray(v_out, dtype=np.float32),
        "bias": np.asarray(bias, dtype=np.float32),
        "id_dim": np.asarray(layer.id_dim),
        "log_q": np.asarray(layer.log_q, dtype=np.float32),
    }
