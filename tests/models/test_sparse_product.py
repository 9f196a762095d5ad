"""The CSR sparse × dense product of the towers' training step (issue 14): the same
values and the same gradient as the dense product, and a refusal of entries out of row
order (which the CSR conversion would silently mis-assign)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from recsys_engine.models.sparse_product import sparse_dense_product  # noqa: E402

# a 4 × 3 matrix in row order, columns unordered within row 0, row 2 empty
INDICES = np.array([[0, 2], [0, 0], [1, 1], [3, 0], [3, 2]], np.int64)
VALUES = np.array([2.0, 1.0, 3.0, 0.5, 1.0], np.float32)
DENSE = np.array([[1.0, 2.0], [0.0, -1.0], [4.0, 0.5]], np.float32)


def _entries(indices=INDICES, values=VALUES, shape=(4, 3)):
    return tf.sparse.SparseTensor(indices, values, shape)


def test_product_equals_the_dense_product_by_hand():
    out = sparse_dense_product(_entries(), tf.constant(DENSE)).numpy()
    # row 0: 2·(4, 0.5) + 1·(1, 2) = (9, 3); row 1: 3·(0, −1); row 2 empty;
    # row 3: 0.5·(1, 2) + 1·(4, 0.5) = (4.5, 1.5)
    np.testing.assert_allclose(out, [[9.0, 3.0], [0.0, -3.0], [0.0, 0.0], [4.5, 1.5]])


def test_gradient_is_the_transposed_product_of_the_upstream():
    table = tf.Variable(DENSE)
    upstream = np.arange(8, dtype=np.float32).reshape(4, 2)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(sparse_dense_product(_entries(), table) * upstream)
    grad = tf.convert_to_tensor(tape.gradient(loss, table)).numpy()
    a = np.zeros((4, 3), np.float32)
    a[INDICES[:, 0], INDICES[:, 1]] = VALUES
    np.testing.assert_allclose(grad, a.T @ upstream)
    # by hand, column 0 of the entries is (1, 0, 0, 0.5): 1·(0, 1) + 0.5·(6, 7) = (3, 4.5)
    np.testing.assert_allclose(grad[0], [3.0, 4.5])


def test_inside_a_compiled_function_on_a_bigger_random_matrix():
    rng = np.random.default_rng(0)
    a = (rng.random((50, 40)) < 0.1) * rng.random((50, 40)).astype(np.float32)
    rows, cols = np.nonzero(a)  # row-major order
    entries = tf.sparse.SparseTensor(
        np.stack([rows, cols], 1).astype(np.int64), a[rows, cols].astype(np.float32), a.shape
    )
    table = tf.Variable(rng.normal(size=(40, 8)).astype(np.float32))

    @tf.function
    def value_and_grad():
        with tf.GradientTape() as tape:
            out = sparse_dense_product(entries, table)
            loss = tf.reduce_sum(tf.square(out))
        return out, tape.gradient(loss, table)

    out, grad = value_and_grad()
    dense_out = a.astype(np.float32) @ table.numpy()
    np.testing.assert_allclose(out.numpy(), dense_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        tf.convert_to_tensor(grad).numpy(), a.T @ (2 * dense_out), rtol=1e-4, atol=1e-5
    )


def test_entries_out_of_row_order_are_refused():
    shuffled = _entries(INDICES[[2, 0, 1, 3, 4]], VALUES[[2, 0, 1, 3, 4]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="row order"):
        sparse_dense_product(shuffled, tf.constant(DENSE))
