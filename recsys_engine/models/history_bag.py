"""The embedding bag of the history-pooled towers: a batch's histories as flat (row, item,
weight) entries and their weighted pooling (``HistoryPooling``, a registered Keras layer).

A batch's histories arrive padded (batch × L item indices and weights, weight 0 =
padding); only the stored entries enter the pooling's sparse product, so it costs the
batch's interactions × dim, never batch × catalogue (issue 14). Imported by
``keras_layers``.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from recsys_engine.models.sparse_product import sparse_dense_product

#: the package every custom layer is registered under (``safe_mode`` loading)
PACKAGE = "recsys"
POOLINGS = ("mean", "sqrt")


@keras.saving.register_keras_serializable(package=PACKAGE)
class HistoryPooling(keras.layers.Layer):
    """Weighted pooling of item vectors: ``Σ_j w_j V_j / Σw`` per row (``mean``) or
    ``Σ_j w_j V_j / √Σw²`` (``sqrt``); empty rows give 0.

    Call with ``[items, weights, vectors]`` (an embedding bag: items and weights are
    batch × L, weight 0 = padding, vectors is n_items × d; only the rows of ``vectors``
    named in ``items`` are read), or — for model files saved before issue 14 — with
    ``[history, vectors]``, history a dense batch × n_items matrix of weights.
    """

    def __init__(self, mode: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS} (got {mode!r})")
        self.mode = mode

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}

    def call(self, inputs):
        if len(inputs) == 2:  # dense history (files saved before issue 14)
            history, vectors = inputs
            if self.mode == "mean":
                total = ops.sum(history, axis=1, keepdims=True)
            else:
                total = ops.sqrt(ops.sum(history * history, axis=1, keepdims=True))
            return ops.matmul(history, vectors) / ops.maximum(total, 1e-12)
        items, weights, vectors = inputs
        return pool_bag(HistoryBag.of(items, weights), vectors, self.mode)


def pool_bag(bag: HistoryBag, vectors, mode: str):
    """``HistoryPooling`` of a flattened bag whose ``items`` index the rows of
    ``vectors``: Σ_j w_j V_j / Σw (``mean``) or / √Σw² (``sqrt``) per row.

    Σ_j w_j V_j is a sparse (rows × len(vectors)) by dense product
    (``sparse_dense_product``, CSR kernels): neither it nor its gradient holds the
    gathered entries × dim block, which at a hundred history items per user is bigger than
    the catalogue's table, and it runs several times faster than gathering that block and
    summing it by row (BENCHMARKS.md, issue 14)."""
    where = tf.cast(tf.stack([bag.rows, bag.items], axis=1), "int64")
    shape = tf.cast(tf.stack([bag.n_rows, tf.shape(vectors)[0]]), "int64")
    pooled = sparse_dense_product(tf.sparse.SparseTensor(where, bag.weights, shape), vectors)
    if mode == "mean":
        total = tf.math.unsorted_segment_sum(bag.weights, bag.rows, bag.n_rows)
    else:
        total = tf.sqrt(
            tf.math.unsorted_segment_sum(bag.weights * bag.weights, bag.rows, bag.n_rows)
        )
    return pooled / tf.maximum(total, 1e-12)[:, None]


class HistoryBag:
    """The stored entries of a padded history batch as flat (row, item, weight) lists."""

    def __init__(self, rows, items, weights, n_rows):
        self.rows, self.items, self.weights, self.n_rows = rows, items, weights, n_rows

    @classmethod
    def of(cls, items, weights) -> HistoryBag:
        """Flatten batch × L ``items``/``weights``, dropping padding (weight ≤ 0)."""
        items = tf.cast(items, "int32")
        weights = tf.cast(weights, "float32")
        n_rows = tf.shape(items)[0]
        rows = tf.broadcast_to(tf.range(n_rows)[:, None], tf.shape(items))
        keep = weights > 0
        return cls(
            tf.boolean_mask(rows, keep),
            tf.boolean_mask(items, keep),
            tf.boolean_mask(weights, keep),
            n_rows,
        )

    def contains(self, columns):
        """batch × len(columns) bool: whether row r's history holds item ``columns[c]``.

        Each entry's item is looked up among the distinct columns (binary search), so it
        costs entries × log(columns) + batch × columns, never the catalogue nor entries ×
        columns (which at a hundred history items per user would be the step's largest
        array)."""
        columns = tf.cast(columns, "int32")
        distinct, at = tf.unique(columns)
        order = tf.argsort(distinct)
        ordered = tf.gather(distinct, order)
        place = tf.minimum(tf.searchsorted(ordered, self.items), tf.size(ordered) - 1)
        found = tf.gather(ordered, place) == self.items
        hits = tf.stack(
            [tf.boolean_mask(self.rows, found), tf.boolean_mask(tf.gather(order, place), found)],
            axis=1,
        )
        counts = tf.scatter_nd(
            hits, tf.ones(tf.shape(hits)[:1]), tf.stack([self.n_rows, tf.size(ordered)])
        )
        return tf.gather(counts > 0, at, axis=1)
