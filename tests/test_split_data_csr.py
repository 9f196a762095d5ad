"""``split_data.sorted_csr``: the direct layout equals scipy's conversion."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_engine.split_data import sorted_csr


def _scipy(users, items, values, shape):
    out = sp.csr_matrix((values, (users, items)), shape=shape)
    out.sort_indices()
    return out


def test_rows_in_user_item_order_are_laid_out_as_scipy_would():
    users = np.array([0, 0, 2, 2, 2, 4], np.int64)  # rows 1 and 3 empty
    items = np.array([1, 3, 0, 2, 3, 1], np.int64)
    values = np.array([1, 0, 2, 3, 4, 5], np.float32)  # an explicit zero is kept
    got = sorted_csr(users, items, values, (5, 4))
    want = _scipy(users, items, values, (5, 4))
    assert got.nnz == want.nnz == 6 and got.has_sorted_indices
    for a in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(got, a), getattr(want, a))


def test_other_orders_and_repeated_pairs_go_through_scipy():
    users = np.array([2, 0, 2, 0], np.int64)
    items = np.array([1, 3, 1, 0], np.int64)  # (2, 1) twice: summed
    values = np.array([1, 2, 3, 4], np.float32)
    got = sorted_csr(users, items, values, (3, 4))
    np.testing.assert_array_equal(got.toarray(), [[4, 0, 0, 2], [0, 0, 0, 0], [0, 4, 0, 0]])
    assert got.has_sorted_indices


def test_no_entries():
    empty = np.zeros(0, np.int64)
    got = sorted_csr(empty, empty, np.zeros(0, np.float32), (3, 2))
    assert got.shape == (3, 2) and got.nnz == 0
