"""Sparse × dense products of the towers' training step, through TensorFlow's CSR kernels.

The history-pooled towers multiply a sparse matrix by a dense table twice a step: the
batch's history entries (rows × distinct items, the embedding bag's weights) by the item
vectors, and Hybrid's named items' feature rows by its content tables.
At MovieLens-20M shape (1,024 histories, ~60k entries, dim 512)
``tf.sparse.sparse_dense_matmul`` took 76 ms forward and 79 ms for its gradient, more than
a third of a Two-tower step; the CSR kernels take 8 ms and 7 ms for the same products
(a profile of the compiled step, BENCHMARKS.md). Neither holds an entries × dim block.
TensorFlow's own gradient of the CSR product multiplies with the kernel's "transposed"
flag, which is several times slower than multiplying by the transposed matrix (product
and gradient 71 ms against 30 ms at that shape, measured alone): hence the custom
gradient, and ``forget_traced_gradients``.
"""

from __future__ import annotations

import tensorflow as tf


def sparse_dense_product(entries: tf.SparseTensor, dense: tf.Tensor) -> tf.Tensor:
    """``entries @ dense`` (rows × cols by cols × d → rows × d), differentiable in ``dense``.

    ``entries`` must list its entries row by row (non-decreasing row index; any column
    order within a row), as ``HistoryBag.of`` and the feature rows do: the CSR conversion
    would otherwise pair columns with the wrong rows, so the order is checked. The values
    are constants of the product (history weights, feature values): no gradient flows to
    them. The gradient with respect to ``dense`` is ``entriesᵀ @ upstream``, dense like
    ``dense``."""
    dense = tf.convert_to_tensor(dense)
    indices = tf.cast(entries.indices, "int64")
    rows = indices[:, 0]
    in_order = tf.debugging.assert_greater_equal(
        rows[1:], rows[:-1], message="sparse_dense_product: entries must be in row order"
    )
    with tf.control_dependencies([in_order]):
        matrix = tf.raw_ops.SparseTensorToCSRSparseMatrix(
            indices=indices,
            values=tf.cast(entries.values, dense.dtype),
            dense_shape=tf.cast(entries.dense_shape, "int64"),
        )

    @tf.custom_gradient
    def product(table):
        def gradient(upstream):
            transposed = tf.raw_ops.SparseMatrixTranspose(input=matrix, type=upstream.dtype)
            return tf.raw_ops.SparseMatrixMatMul(a=transposed, b=upstream)

        return tf.raw_ops.SparseMatrixMatMul(a=matrix, b=table), gradient

    if tf.executing_eagerly():
        return product(dense)
    before = set(_registered())
    result = product(dense)
    _TRACED.update(set(_registered()) - before)
    return result


#: names under which ``tf.custom_gradient`` registered this module's gradients while
#: tracing (see ``forget_traced_gradients``)
_TRACED: set[str] = set()


def _registered() -> dict:
    """TensorFlow's process-wide table of gradient functions by name (private: the
    public API registers but never removes). Should a TensorFlow upgrade move it, an
    empty table: training still works, the closures stay (and the release test fails)."""
    from tensorflow.python.framework import ops

    table = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return table if isinstance(table, dict) else {}


def forget_traced_gradients() -> None:
    """Drop the gradient functions ``sparse_dense_product`` registered while tracing.

    Inside a compiled function ``tf.custom_gradient`` registers its gradient closure in
    TensorFlow's process-wide registry for good (only TF1's ``tf.gradients`` reads it;
    the tape keeps its own reference), and that closure holds the traced training step,
    whose graph holds every variable it captured — the optimizer's moments and weight
    average included. ``keras_fit.release_training_graph`` calls this once training is
    over, so those tables are freed before evaluation as before, and
    ``keras_files.load_keras`` after a saved model's layers were rebuilt (traced)."""
    registry = _registered()
    for name in _TRACED:
        registry.pop(name, None)
    _TRACED.clear()
