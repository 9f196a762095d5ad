"""Item content in the sequence models' item embedding (issue 18, ``use_content``): an
item nobody interacted with in training is scored from its content.

Data: the planted walks of ``test_sequence_models`` (i → i + 1 over 12 items), each item
with its own category ``c<i>``, plus a 13th item that never occurs in training and has
item 6's category. After the run 3 → 4 → 5 the next item is 6; a model that puts content
in its item vectors must rank the new item — which looks exactly like 6 — near the top.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models import create_model
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import TrainData
from tests.models.test_sequence_models import N_ITEMS, walks

CONFIG = {
    "epochs": 25,
    "patience": 0,
    "batch_size": 8,
    "learning_rate": 1e-2,
    "dim": 16,
    "max_len": 6,
    "blocks": 1,
    "dropout": 0.0,
    "seed": 0,
}
NEW = N_ITEMS  # the item without training interactions


def walks_with_content() -> TrainData:
    """``walks()`` over a catalogue of 13 items, each with its category."""
    base = walks()
    ids = [f"i{i:02d}" for i in range(N_ITEMS + 1)]
    lengths = np.diff(base.sequence_indptr)
    data = TrainData.from_interactions(
        np.repeat(base.user_ids, lengths),
        base.item_ids[base.sequence_items],
        item_ids=ids,
        timestamps=np.concatenate([np.arange(n, dtype=float) for n in lengths]),
    )
    data.items = pd.DataFrame(
        {"item_id": ids, "categories": [[f"c{i}"] for i in range(N_ITEMS)] + [["c6"]]}
    )
    return data


def run(items: list[int]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    n = N_ITEMS + 1
    ones = np.ones(len(items), np.float32)
    h = sp.csr_matrix((ones, ([0] * len(items), items)), (1, n))
    ranks = np.arange(len(items), 0, -1, dtype=np.float32)
    return h, sp.csr_matrix((ranks, ([0] * len(items), items)), (1, n))


@pytest.mark.parametrize("use_content", [True, False])
def test_a_new_item_is_scored_from_its_content(use_content: bool, tmp_path) -> None:
    data = walks_with_content()
    assert data.matrix[:, NEW].nnz == 0  # nobody interacted with it in training
    model = create_model("sasrec", {**CONFIG, "use_content": use_content}).fit(data)
    h, r = run([3, 4, 5])
    scores = model.score_in_order(h, r)[0]
    scores[[3, 4, 5]] = -np.inf
    rank_new = int((scores > scores[NEW]).sum()) + 1
    if use_content:
        assert int(np.argmax(scores)) == 6
        assert rank_new <= 2, scores  # right behind item 6, which it looks like
        loaded = Recommender.load(model.save(tmp_path / "m"))
        np.testing.assert_allclose(loaded.score_in_order(h, r)[0][NEW], scores[NEW], atol=1e-5)
    else:
        assert rank_new > 2  # ID-only: nothing to score it from


def test_use_content_needs_item_metadata() -> None:
    with pytest.raises(ConfigError, match="needs item metadata"):
        create_model("sasrec", {**CONFIG, "epochs": 1, "use_content": True}).fit(walks())


def test_use_content_is_refused_before_queueing_without_item_content(store) -> None:
    from recsys_engine.runs import check_run, queue_run
    from recsys_engine.splits import SplitConfig, create_split

    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u2"],
            "item_id": ["a", "b", "c", "b", "c", "a"],
            "ts": pd.to_datetime([1, 2, 3, 1, 2, 3], unit="h"),
        }
    )
    bare = store.create_dataset_from_frames("bare", frame, feedback="implicit")
    split = create_split(store, bare, SplitConfig(strategy="leave-last", n_last=1))
    with pytest.raises(ConfigError, match=f"use_content is on, but dataset {bare} has no item"):
        queue_run(store, split, "sasrec", {"use_content": True})
    assert len(store.list_runs()) == 0
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "categories": [["x"], ["y"], ["x"]]})
    rich = store.create_dataset_from_frames("rich", frame, items, feedback="implicit")
    split = create_split(store, rich, SplitConfig(strategy="leave-last", n_last=1))
    assert check_run(store, split, "sasrec", {"use_content": True}).use_content
