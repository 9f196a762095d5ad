"""Registered Keras 3 layers of the history-pooled models (two-tower, content, hybrid).

Only imported by the Keras model modules (it imports TensorFlow). Every layer has a
``get_config`` and is registered under the ``recsys`` package, so ``.keras`` files load with
``safe_mode=True`` once this module is imported — no ``Lambda`` layers anywhere.

The item side is computed for the whole catalogue at every step (it is cheap below ~50k
items): item vector = ID embedding (items with training interactions only) ⊕ linear
projection of the item's sparse content features. The user side is the weighted mean of
the history's input item vectors, so scores are additive over history items:
score(h, i) = b_i + Σ_j w̃_j ⟨v_in_j, v_out_i⟩ with w̃ = w / Σw.

The history reaches the towers as an *embedding bag* (``history_bag``): ``history_items``
(batch × L item indices) and ``history_weights`` (batch × L, 0 = padding), L the longest
history of the batch. Only the history's item vectors are gathered, so a step costs the
batch's interactions × dim, never batch × catalogue (issue 14). With a sampled loss
(``sampled_softmax``, ``bpr``) training reads the ID tables row by row — the distinct history
items, targets and negatives of the batch — so their gradients, and the optimizer's work
(``lazy_adam``), cover those rows only. Model files saved before the bag took a dense
``history`` (batch × n_items) input; ``PooledTowers`` still accepts it, so they keep loading.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from recsys_engine.models.context_layers import context_sum, stacked_context_tables
from recsys_engine.models.history_bag import (
    PACKAGE,
    HistoryBag,
    HistoryPooling,
    pool_bag,
)
from recsys_engine.models.sampled_softmax import (
    MASK,
    log_q_corrected,
    remove_accidental_hits,
)
from recsys_engine.models.sparse_product import sparse_dense_product
from recsys_engine.models.table_rows import RowReader, current_rows

MODES = ("softmax", "sampled_softmax", "bpr")
#: items ``catalogue_arrays`` computes at once (8 MB of vectors at width 512)
CATALOGUE_ROWS = 4096


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
        context_sizes: codes per context field (issue 18; empty = context-blind). With
            fields, the input ``context`` (batch × fields int codes) adds Σ_f E_f[c_f]
            to the user vector, E_f[0] = 0 (unknown / neutral context).
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
        context_sizes: tuple[int, ...] | list[int] = (),
        read_scaled_l2: bool = False,
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
        self.context_sizes = [int(n) for n in context_sizes]
        self.read_scaled_l2 = bool(read_scaled_l2)
        self.pooling = HistoryPooling(pooling, name="pooling")
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        #: whether the optimizer applies the ID rows' L2 penalty (``hand_row_penalties``)
        self._penalty_in_update = False

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
            context_sizes=list(self.context_sizes),
            read_scaled_l2=self.read_scaled_l2,
        )
        return config

    def build(self, input_shape=None):
        n, reg = self.n_items, keras.regularizers.L2(self.l2) if self.l2 > 0 else None
        emb = keras.initializers.RandomNormal(stddev=0.05)
        if self.id_dim:
            # by rows: the L2 penalty covers the rows a batch reads (``item_rows``)
            id_reg = None if self.reads_rows else reg
            self.id_in = self.add_weight((n, self.id_dim), emb, name="id_in", regularizer=id_reg)
            self.id_out = self.add_weight((n, self.id_dim), emb, name="id_out", regularizer=id_reg)
            if self.item_bias:
                self.id_bias = self.add_weight((n,), "zeros", name="id_bias")
            # 1 for items with training interactions: the others have no ID part at all
            self.id_mask = self.add_weight((n,), "ones", name="id_mask", trainable=False)
            if self.reads_rows and self.read_scaled_l2:
                # per row 1 / (chance a step reads it): input rows, output rows
                self.read_scale = self.add_weight(
                    (n, 2), "ones", name="read_scale", trainable=False
                )
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
        dim = self.id_dim + self.content_dim
        self.context_tables = [
            self.add_weight((size, dim), emb, name=f"context_{f}", regularizer=reg)
            for f, size in enumerate(self.context_sizes)
        ]
        self.pooling.build(None)

    def set_catalogue(
        self,
        features=None,
        id_mask: np.ndarray | None = None,
        log_q: np.ndarray | None = None,
        read_scale: np.ndarray | None = None,
    ) -> None:
        """Assign the fixed (non-trainable) catalogue arrays after ``build``
        (``read_scale``: n_items × 2, the input and output rows' penalty weights)."""
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
        if read_scale is not None and hasattr(self, "read_scale"):
            self.read_scale.assign(np.asarray(read_scale, dtype=np.float32))

    @property
    def reads_rows(self) -> bool:
        """Whether training reads the ID tables row by row (the sampled losses: a step
        touches the batch's history, target and negative rows, so the tables' gradients
        are sparse and ``LazyAdam`` updates those rows only); the full softmax scores the
        whole catalogue at every step."""
        return self.mode != "softmax"

    def hand_row_penalties(self) -> list[tuple[keras.Variable, float, keras.Variable | None, int]]:
        """Hand the ID tables' L2 penalty of the rows read (``item_rows``) to the
        optimizer, which adds its gradient inside its row update
        (``lazy_adam.hand_row_penalties``): (table, l2, per-row weights or None, their
        column) for the input and the output table. From then on ``item_rows`` adds no
        penalty loss, so the same gradient is not computed twice. Empty unless training
        reads rows and l2 > 0."""
        if not (self.id_dim and self.reads_rows and self.l2 > 0):
            return []
        self._penalty_in_update = True
        scale = getattr(self, "read_scale", None)
        return [(self.id_in, self.l2, scale, 0), (self.id_out, self.l2, scale, 1)]

    def _id_keep(self, training):
        """Per item 1/0: whether its ID part is on (items with training interactions,
        minus the ID dropout's draw while training)."""
        keep = self.id_mask
        if training and self.id_dropout > 0:
            draw = keras.random.uniform((self.n_items,), seed=self.seed_generator)
            keep = keep * ops.cast(draw >= self.id_dropout, keep.dtype)
        return keep

    def _features(self, items):
        """The rows ``items`` of the sparse item × feature matrix (None = every item, as
        the full softmax needs), as a SparseTensor to multiply by the content tables.

        Multiplying the whole catalogue's features and then taking rows costs a
        sampled-loss step the catalogue's size: at 186k items two 186k × 512 products
        forward and two dense gradients of that size backward, so Hybrid's epoch on the
        3M-row log took ~5× Two-tower's (BENCHMARKS.md). The product of the gathered rows
        is the same sum over the same entries in the same order, and its gradient with
        respect to the (small, features × dim) tables stays dense."""
        if items is None:
            return tf.sparse.SparseTensor(
                self.feature_indices,
                self.feature_values,
                dense_shape=(self.n_items, self.n_features),
            )
        indices = ops.convert_to_tensor(self.feature_indices)
        nnz = tf.shape(indices, out_type="int64")[0]
        # per item, the positions of its entries (they are stored sorted by item, feature)
        positions = tf.RaggedTensor.from_value_rowids(
            tf.range(nnz), indices[:, 0], nrows=self.n_items
        )
        picked = tf.gather(positions, tf.cast(items, "int64"))
        flat = picked.flat_values
        return tf.sparse.SparseTensor(
            tf.stack([picked.value_rowids(), tf.gather(indices[:, 1], flat)], axis=1),
            tf.gather(ops.convert_to_tensor(self.feature_values), flat),
            dense_shape=tf.stack([picked.nrows(), tf.constant(self.n_features, "int64")]),
        )

    def catalogue(self, training=False):
        """Input vectors, output vectors and bias of every item (ID ⊕ content parts)."""
        return self.item_rows(None, None, training)

    def item_rows(self, items_in, items_out, training=False, penalise=False, read=None):
        """The ``catalogue`` rows ``items_in`` of the input vectors and ``items_out`` of the
        output vectors and bias (None = every item). The ID tables are read by row, so
        their gradients name the rows read; the content parts come from the named items'
        feature rows (``_features``, taken once for each list of items).

        ``read(table, items)`` reads the rows ``items`` of one of the layer's weights (the
        whole weight for None): by default the weight itself
        (``table_rows.current_rows``); validation passes a reader of the weight average
        instead (``early_stopping.averaged_reader``).

        ``penalise`` (distinct items, with ``l2`` > 0) adds the L2 penalty of the ID rows
        read, l2 · Σ s_i ‖row_i‖², computed on the rows already read. With
        ``read_scaled_l2`` the weight s_i is 1 / (the chance a step reads row i,
        ``pooled_examples.row_read_chances``), so a step's expected penalty is the
        full-table l2 · Σ‖row‖²; without it (files saved before) s_i = 1. Once the penalty
        is handed to the optimizer (``hand_row_penalties``), it is not added here."""

        rows = current_rows if read is None else read

        n_out = self.n_items if items_out is None else ops.shape(items_out)[0]
        ins, outs, bias = [], [], ops.zeros((n_out,))
        if self.id_dim:
            keep = self._id_keep(training)
            keep_in, keep_out = rows(keep, items_in), rows(keep, items_out)
            id_in, id_out = rows(self.id_in, items_in), rows(self.id_out, items_out)
            if penalise and self.l2 > 0 and not self._penalty_in_update:
                sq_in = ops.sum(ops.square(id_in), axis=1)
                sq_out = ops.sum(ops.square(id_out), axis=1)
                if hasattr(self, "read_scale"):
                    sq_in = sq_in * rows(self.read_scale, items_in)[:, 0]
                    sq_out = sq_out * rows(self.read_scale, items_out)[:, 1]
                self.add_loss(self.l2 * (ops.sum(sq_in) + ops.sum(sq_out)))
            ins.append(_kept(id_in, keep_in))
            outs.append(id_out * keep_out[:, None])
            if self.item_bias:
                bias = bias + rows(self.id_bias, items_out) * keep_out
        if self.content_dim:  # only the rows named: a step does not pay for the catalogue
            f_in = self._features(items_in)
            f_out = f_in if items_out is items_in else self._features(items_out)
            ins.append(sparse_dense_product(f_in, rows(self.content_in, None)))
            outs.append(sparse_dense_product(f_out, rows(self.content_out, None)))
            if self.item_bias:
                product = sparse_dense_product(f_out, rows(self.content_bias, None)[:, None])
                bias = bias + product[:, 0]

        def cat(parts):
            return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=1)

        return cat(ins), cat(outs), bias

    def call(self, inputs, training=False):
        """Logits of ``mode``. ``inputs`` holds ``history_items`` and ``history_weights``
        (the embedding bag), or ``history`` (dense, files saved before issue 14)."""
        if "history" not in inputs:
            if self.reads_rows:
                return self._call_on_rows(inputs, training)
            bag = HistoryBag.of(inputs["history_items"], inputs["history_weights"])
        v_in, v_out, bias = self.catalogue(training)
        if "history" in inputs:  # dense (older files)
            history = inputs["history"]
            user = self._user_extras(self.pooling([history, v_in]), inputs, training)
        else:  # the full softmax over a bag
            user = self.pooling([inputs["history_items"], inputs["history_weights"], v_in])
            user = self._user_extras(user, inputs, training)
        if self.mode == "softmax":
            logits = ops.matmul(user, ops.transpose(v_out)) + bias[None, :]
            if not self.mask_inputs:
                return logits
            if "history" in inputs:
                return logits + MASK * ops.cast(history > 0, logits.dtype)
            where = tf.stack([bag.rows, bag.items], axis=1)
            return tf.tensor_scatter_nd_add(logits, where, tf.fill(tf.shape(bag.rows), MASK))
        target = ops.cast(inputs["target"], "int32")
        named = target if self.mode != "bpr" else ops.cast(inputs["negative"], "int32")
        return self._sampled_head(
            user,
            ops.take(v_out, target, axis=0),
            ops.take(bias, target),
            (ops.take(v_out, named, axis=0), ops.take(bias, named)),
            target,
            lambda: ops.take(history, target, axis=1) > 0,
        )

    def _call_on_rows(self, inputs, training):
        """The sampled losses over a bag, reading only the ID rows the batch names: the
        distinct history items' input rows, the targets' (and negatives') output rows."""
        bag = HistoryBag.of(inputs["history_items"], inputs["history_weights"])
        target = ops.cast(inputs["target"], "int32")
        named = target
        if self.mode == "bpr":
            named = ops.concatenate([target, ops.cast(inputs["negative"], "int32")], axis=0)
        items_in, at_in = tf.unique(bag.items)
        items_out, at_out = tf.unique(named)
        v_in, v_out, bias = self.item_rows(items_in, items_out, training, penalise=training)
        bag_rows = HistoryBag(bag.rows, at_in, bag.weights, bag.n_rows)
        pooled = pool_bag(bag_rows, v_in, self.pooling_mode)
        user = self._user_extras(pooled, inputs, training)
        n = ops.shape(target)[0]
        at_target, at_negative = at_out[:n], at_out[n:]
        return self._sampled_head(
            user,
            ops.take(v_out, at_target, axis=0),
            ops.take(bias, at_target),
            (ops.take(v_out, at_negative, axis=0), ops.take(bias, at_negative)),
            target,
            lambda: bag.contains(target),
        )

    def _user_extras(self, user, inputs, training):
        """The pooled user vector with its training dropout and the event's context."""
        if training and self.dropout > 0:
            user = keras.random.dropout(user, self.dropout, seed=self.seed_generator)
        if self.context_sizes:
            user = user + self.context_vector(inputs["context"])
        return user

    def _sampled_head(self, user, t_vec, t_bias, negatives, target, in_history):
        """``bpr``: positive minus negative score (``negatives`` = the negatives' output
        vectors and biases); ``sampled_softmax``: the in-batch logits (column j = row j's
        target), log-Q corrected, accidental hits (``in_history()``: batch × batch, whether
        row r's history holds column j's target) removed."""
        if self.mode == "bpr":
            n_vec, n_bias = negatives
            pos = ops.sum(user * t_vec, axis=1) + t_bias
            return pos - (ops.sum(user * n_vec, axis=1) + n_bias)
        logits = ops.matmul(user, ops.transpose(t_vec)) + t_bias[None, :]
        logits = log_q_corrected(logits, ops.take(self.log_q, target))
        return remove_accidental_hits(logits, target, in_history())

    def context_vector(self, codes):
        """Σ_f E_f[c_f] (batch × dim) for int codes batch × fields; code 0 adds nothing."""
        return context_sum(self.context_tables, codes)


def _kept(rows, keep):
    """``rows × keep[:, None]``, the multiply skipped when every ``keep`` is 1: the
    rows a training step reads are its history items, which all have training
    interactions, so without ID dropout the multiply (and its gradient) was a pass over
    the step's largest block for nothing (~5% of a step at MovieLens-20M shape,
    BENCHMARKS.md). The values are the same either way."""
    return tf.cond(tf.reduce_all(keep > 0), lambda: rows, lambda: rows * keep[:, None])


def catalogue_arrays(
    layer: PooledTowers,
    into: dict[str, np.ndarray] | None = None,
    read: RowReader | None = None,
) -> dict[str, np.ndarray]:
    """Numpy item vectors and biases (inference mode) plus the size of the ID part.

    The catalogue is computed ``CATALOGUE_ROWS`` items at a time into the numpy arrays
    (the same values as ``layer.catalogue``): a whole read of a table written in place is
    a copy, and the vectors are computed from it, so at 186k items × 512 reading both
    whole held four 0.38 GB temporaries on top of the arrays at every validation (issue
    14). With ``into`` (the ``v_in``, ``v_out`` and ``bias`` an earlier call returned)
    the values are written into those arrays: at 186k items, allocating and first
    touching two fresh 0.38 GB arrays was most of each validation's rebuild on the
    benchmark machine (BENCHMARKS.md). ``read`` reads the layer's weights as in
    ``PooledTowers.item_rows`` (validation reads the weight average through it)."""
    n, dim = int(layer.n_items), int(layer.id_dim + layer.content_dim)

    def array(name: str, shape: tuple[int, ...]) -> np.ndarray:
        old = None if into is None else into.get(name)
        if old is not None and old.shape == shape and old.dtype == np.float32:
            return old
        return np.empty(shape, np.float32)

    v_in, v_out, bias = array("v_in", (n, dim)), array("v_out", (n, dim)), array("bias", (n,))
    for start in range(0, n, CATALOGUE_ROWS):
        stop = min(start + CATALOGUE_ROWS, n)
        rows = tf.range(start, stop, dtype="int64")
        block_in, block_out, block_bias = layer.item_rows(rows, rows, training=False, read=read)
        v_in[start:stop], v_out[start:stop] = block_in, block_out
        bias[start:stop] = block_bias
    return {
        "v_in": v_in,
        "v_out": v_out,
        "bias": bias,
        "id_dim": np.asarray(layer.id_dim),
        "log_q": np.asarray(layer.log_q, dtype=np.float32),
        # items with training interactions (only known where there is an ID part)
        "warm": np.asarray(layer.id_mask) > 0 if layer.id_dim else np.ones(0, dtype=bool),
        **context_arrays(layer, read),
    }


def context_arrays(layer: PooledTowers, read: RowReader | None = None) -> dict[str, np.ndarray]:
    """The layer's context tables for numpy scoring (``stacked_context_tables``), read
    through ``read`` as in ``catalogue_arrays``."""
    dim = layer.id_dim + layer.content_dim
    tables = getattr(layer, "context_tables", [])
    if read is not None:
        tables = [read(t, None) for t in tables]
    return stacked_context_tables(tables, layer.context_sizes, dim)
