"""Which loss ``auto`` stands for in the history-pooled models (issue 14): the full softmax
while its cost, training examples × catalogue items per epoch, stays under
``max_softmax_cells`` (and the catalogue under ``max_softmax_items``), else the sampled
softmax — so a MovieLens-20M-sized log trains sampled although its catalogue is small."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models import create_model
from recsys_engine.models.data import TrainData
from recsys_engine.models.pooled_config import TwoTowerConfig
from recsys_engine.models.pooled_examples import choose_loss

LIMITS = {"max_items": 50_000, "max_cells": 250_000_000}


@pytest.mark.parametrize(
    ("n_examples", "n_items", "expected"),
    [
        (610, 9_742, "softmax"),  # ml-latest-small: 5.9e6 cells
        (1_892, 17_632, "softmax"),  # HetRec Last.fm: 3.3e7 cells
        (138_493, 26_744, "sampled_softmax"),  # MovieLens-20M: 3.7e9 cells
        (5_000, 50_000, "softmax"),  # exactly 2.5e8 cells and 50k items: both limits hold
        (5_001, 50_000, "sampled_softmax"),  # one example more: 2.50005e8 cells
        (10, 50_001, "sampled_softmax"),  # few cells, but the catalogue is over its limit
    ],
)
def test_auto_takes_the_full_softmax_only_while_it_is_affordable(n_examples, n_items, expected):
    assert choose_loss("auto", n_examples, n_items, **LIMITS) == expected


def test_zero_cells_means_no_cell_limit_and_explicit_losses_are_kept():
    assert choose_loss("auto", 138_493, 26_744, 50_000, 0) == "softmax"
    for loss in ("softmax", "sampled_softmax", "bpr"):
        assert choose_loss(loss, 138_493, 26_744, **LIMITS) == loss


def test_the_limit_is_a_checked_setting_and_old_runs_keep_choosing_by_items():
    assert TwoTowerConfig().max_softmax_cells == 250_000_000
    with pytest.raises(ConfigError, match="max_softmax_cells"):
        TwoTowerConfig(max_softmax_cells=-1)
    # a run stored before the setting existed chose by the catalogue size alone
    assert TwoTowerConfig.from_stored({"dim": 8}).max_softmax_cells == 0


def tiny(n_users: int = 30, n_items: int = 40) -> TrainData:
    """Users with 3–8 items each (every user counts as one training example)."""
    rng = np.random.default_rng(0)
    rows, cols = [], []
    for u in range(n_users):
        picked = rng.choice(n_items, int(rng.integers(3, 9)), replace=False)
        rows += [u] * len(picked)
        cols += picked.tolist()
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
    return TrainData(
        matrix=matrix,
        user_ids=np.array([f"u{u}" for u in range(n_users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(n_items)], dtype=object),
    )


@pytest.mark.parametrize(("max_cells", "sampled"), [(30 * 40, False), (30 * 40 - 1, True)])
def test_two_tower_fit_follows_the_cell_limit(max_cells, sampled):
    """30 users × 40 items = 1,200 cells: at the limit the full softmax (no ``target``
    input), one cell under it the sampled softmax (one ``target`` per example)."""
    config = {"dim": 4, "epochs": 1, "batch_size": 8, "patience": 0, "ema": 0.0}
    model = create_model("two_tower", {**config, "max_softmax_cells": max_cells}).fit(tiny())
    names = {t.name for t in model._keras_model.inputs}
    assert ("target" in names) is sampled
    assert np.isfinite(model.score(tiny().matrix[:2])).all()
