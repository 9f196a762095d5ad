"""The validation NDCG@10 early stopping reads, hand-checked, whatever the score block."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.models import validation

SCORES = np.array([[9, 1, 5, 3], [0, 4, 8, 2], [1, 2, 3, 4]], dtype=np.float32)


@pytest.mark.parametrize("block", [1 << 24, 4, 8])  # 3 users at once, 1, then 2
def test_validation_ndcg_is_the_same_when_big_catalogues_score_fewer_users_at_once(
    monkeypatch, block
):
    """u0 (history item 0, relevant 1): ranks 2, 3, 1 → 1/log2(4) = 0.5; u1 (no history,
    relevant 2): first → 1; u2 (history 3, relevant 0): ranks 2, 1, 0 → 0.5. Mean 2/3."""
    monkeypatch.setattr(validation, "SCORE_BLOCK", block)
    histories = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], np.float32))
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]], np.float32))
    seen: list[int] = []

    def score(users, h):
        seen.append(len(users))
        return SCORES[users]

    value = validation.ndcg_at_10(score, histories, relevant)
    assert value == pytest.approx(2 / 3)
    assert max(seen) == min(3, max(1, block // 4))


def test_a_larger_block_scores_more_users_at_once_with_the_same_value():
    """``max_block`` (what a model writing into one kept block asks for) only changes how
    many users are scored at once: 2 of 4 items fit 2 users, 12 all 3."""
    histories = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], np.float32))
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]], np.float32))
    for block, most in ((8, 2), (12, 3)):
        seen: list[int] = []

        def score(users, h, seen=seen):
            seen.append(len(users))
            return SCORES[users]

        value = validation.ndcg_at_10(score, histories, relevant, max_block=block)
        assert value == pytest.approx(2 / 3)
        assert max(seen) == most
