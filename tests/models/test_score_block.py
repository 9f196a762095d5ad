"""Scores written into one kept block from batch to batch (issue 14's evaluation at a
shop-sized catalogue): the same values as fresh arrays, in the same memory every batch."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from small_log_support import random_log, split_every, with_validation

from recsys_engine.models.data import TrainData, finite_rows, mask_items, top_k
from recsys_engine.models.score_block import ScoreBlock


def test_a_block_hands_out_views_of_one_buffer_that_grows_to_the_largest_asked_for():
    block = ScoreBlock()
    a = block.take(2, 3)
    assert a.shape == (2, 3) and a.dtype == np.float32 and a.flags.c_contiguous
    a[:] = 7
    b = block.take(3, 2)  # same size: the same memory, seen in the new shape
    assert np.shares_memory(a, b) and (b == 7).all()
    c = block.take(1, 4)  # smaller: a view of the start
    assert np.shares_memory(a, c) and c.flags.c_contiguous
    d = block.take(4, 5)  # larger: a new buffer, kept for the calls after it
    assert not np.shares_memory(a, d) and d.shape == (4, 5)
    assert np.shares_memory(d, block.take(2, 2))


def test_finite_rows_by_hand():
    scores = np.array(
        [[1, 2, 3], [1, np.nan, 3], [np.inf, 0, 0], [0, -np.inf, 0], [-5, 0, 1e30]],
        dtype=np.float32,
    )
    assert finite_rows(scores).tolist() == [True, False, False, False, True]


def _train() -> TrainData:
    return random_log(40, 300, density=0.06, seed=2)


@pytest.fixture(scope="module")
def fitted():
    pytest.importorskip("keras")
    from recsys_engine.models import create_model

    data = _train()
    model = create_model("two_tower", {"epochs": 1, "patience": 0, "dim": 8, "seed": 1})
    return model.fit(data), data


def test_inside_the_context_a_pooled_model_scores_into_one_block_with_the_fresh_values(fitted):
    model, data = fitted
    first, second = data.matrix[:7], data.matrix[7:12]  # the second fits the first block
    fresh_first, fresh_second = model.score(first), model.score(second)
    assert not np.shares_memory(fresh_first, model.score(first))  # outside: new arrays
    with model.reusing_score_block():
        a = model.score(first)
        np.testing.assert_array_equal(a, fresh_first)
        with model.reusing_score_block():  # nested: the outer block
            b = model.score(second)
        np.testing.assert_array_equal(b, fresh_second)
        assert np.shares_memory(a, b)  # the second batch wrote over the first
        picked = model.score(first, np.array([3, 1, 4]))
        np.testing.assert_array_equal(picked, fresh_first[:, [3, 1, 4]])
    assert model._score_block is None
    assert not np.shares_memory(model.score(first), b)


def test_evaluation_through_the_block_ranks_every_batch_as_fresh_scores_do(fitted):
    """Batches of 3 users share the block: each user's list is the one their own fresh
    scores give (a batch read after the next one overwrote it would differ)."""
    from recsys_engine.evaluation import EvalOptions, evaluate
    from recsys_engine.split_data import SplitData

    model, data = fitted
    seen, test = split_every(data.matrix, every=5)
    split = SplitData(
        train=TrainData(matrix=seen, user_ids=data.user_ids, item_ids=data.item_ids),
        seen=seen,
        test=test,
    )
    result = evaluate(model, split, EvalOptions(ks=(5, 10), batch_size=3))
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    for row, u in enumerate(users):
        scores = model.score(seen[[u]])
        mask_items(scores, seen[[u]])
        items, _ = top_k(scores, result.top_items.shape[1])
        np.testing.assert_array_equal(result.top_items[row], items[0])


def test_a_fit_validates_every_epoch_through_one_block():
    """One block for the whole fit's validations, not one per epoch."""
    pytest.importorskip("keras")
    from recsys_engine.models import create_model, pooled

    train = with_validation(_train(), every=7)
    blocks: list[ScoreBlock] = []
    taken: list[int] = []

    class Recorded(ScoreBlock):
        def __init__(self):
            super().__init__()
            blocks.append(self)

        def take(self, rows, columns):
            taken.append(id(self))
            return super().take(rows, columns)

    model = create_model("two_tower", {"epochs": 3, "patience": 0, "dim": 8, "seed": 3})
    with mock.patch.object(pooled, "ScoreBlock", Recorded):
        model.fit(train)
    assert len(blocks) == 1 and len(taken) >= 3 and set(taken) == {id(blocks[0])}
    assert model._score_block is None
