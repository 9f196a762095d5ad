"""``time_order`` is exactly ``np.lexsort((items, ts, users))`` on every path."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_engine.models.time_order import time_order


def _events(seed: int, n: int, times: np.ndarray):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 7, n).astype(np.int64)
    items = rng.integers(0, 5, n).astype(np.int64)  # repeats: equal rows keep their order
    return users, items, rng.choice(times, n)


@pytest.mark.parametrize(
    "times",
    [
        np.array([1.6e9, 1.6e9 + 1, 1.6e9 + 86400]),  # whole seconds: the offset key
        np.array([0.5, 0.25, 3.75, -2.0]),  # fractions: the rank key
        np.array([-1e300, 0.0, 1e300]),  # a span no key holds: lexsort itself
    ],
)
def test_time_order_equals_lexsort(times):
    for seed in range(5):
        users, items, ts = _events(seed, 200, times)
        np.testing.assert_array_equal(
            time_order(users, items, ts), np.lexsort((items, ts, users))
        )


def test_time_order_by_hand():
    # user 1 at t=5 item 2, user 0 at t=9 item 1, user 0 at t=3 item 4, user 0 at t=9 item 0
    order = time_order(np.array([1, 0, 0, 0]), np.array([2, 1, 4, 0]), np.array([5.0, 9, 3, 9]))
    assert order.tolist() == [2, 3, 1, 0]


def test_time_order_of_nothing():
    empty = np.zeros(0, np.int64)
    assert time_order(empty, empty, np.zeros(0)).tolist() == []
