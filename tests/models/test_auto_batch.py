"""The history-pooled models' automatic batch size (``batch_size=0``): 128 while an epoch
stays within 256 steps, doubled beyond (issue 14: per-step overhead on big logs)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.models import create_model, pooled_config
from recsys_engine.models.data import TrainData
from recsys_engine.models.pooled_config import TwoTowerConfig, auto_batch_size


@pytest.mark.parametrize(
    ("users", "size"),
    [
        (0, 128),
        (943, 128),  # ml-100k: the size the defaults were tuned with
        (32_768, 128),  # 256 steps of 128
        (32_769, 256),
        (65_536, 256),
        (65_537, 512),
        (138_493, 1024),  # MovieLens-20M: 136 steps
        (147_671, 1024),
        (3_000_000, 8192),  # capped: 367 steps
    ],
)
def test_automatic_size_keeps_an_epoch_within_256_steps(users, size):
    assert auto_batch_size(users) == size


def test_zero_is_automatic_and_a_set_size_is_kept():
    assert TwoTowerConfig().batch_size == 0
    assert TwoTowerConfig().effective_batch_size(100_000) == 512
    assert TwoTowerConfig(batch_size=64).effective_batch_size(100_000) == 64
    assert create_model("hybrid").config.batch_size == 0


def test_fit_trains_with_the_resolved_size_and_stores_zero(monkeypatch):
    pytest.importorskip("tensorflow")
    # shrink the thresholds so 40 users need doubling: 8 -> 16 -> 32 (2 steps per epoch)
    monkeypatch.setattr(pooled_config, "AUTO_BATCH", 8)
    monkeypatch.setattr(pooled_config, "AUTO_BATCH_STEPS", 2)
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((40, 30)) < 0.3).astype(np.float32))
    assert (np.diff(x.indptr) >= 2).all()
    train = TrainData(x, [f"u{i}" for i in range(40)], [f"i{j}" for j in range(30)])
    totals: list[int] = []
    model = create_model("two_tower", {"epochs": 1, "patience": 0, "dim": 8})
    model.fit(train, on_progress=lambda done, total, info: totals.append(total))
    assert set(totals) == {2}  # 40 users in steps of 32
    assert model.config.batch_size == 0
