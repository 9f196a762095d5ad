"""Reference models on a big catalogue (issue 14): EASE refuses, before allocating, what
would not fit in memory; Item-kNN keeps sparse top-k similarities in bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models import create_model, ease
from recsys_engine.models.data import TrainData

GIB = 2**30


def sparse_train(n_users: int, n_items: int, per_user: int = 20, seed: int = 1) -> TrainData:
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n_users), per_user)
    cols = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), (n_users, n_items))
    return TrainData(
        matrix=matrix,
        user_ids=np.array([f"u{u}" for u in range(n_users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(n_items)], dtype=object),
    )


def test_ease_dense_bytes_by_hand():
    assert ease.dense_bytes(10, 100, dual=False) == 20 * 100 * 100
    assert ease.dense_bytes(10, 100, dual=True) == 8 * 10 * 10 + 20 * 10 * 100


def test_ease_refuses_a_catalogue_that_does_not_fit_with_one_clear_sentence(monkeypatch):
    monkeypatch.setattr(ease, "memory_limit", lambda: 4 * GIB)
    data = sparse_train(40, 50_000)
    model = create_model("ease", {"solver": "primal"})
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as caught:
            model.fit(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == (
        "EASE (primal solver) on 40 users × 50,000 items would need about 46.6 GiB for its "
        "dense items × items matrices, above the 4.0 GiB limit (half this machine's "
        "memory); use Item-kNN or Two-tower for a catalogue this large"
    )
    assert peak < 50 * 2**20  # refused before any dense matrix was allocated


def test_ease_auto_takes_the_form_that_fits(monkeypatch):
    """3000 users > 2000 items: the primal form (20 × 2000² B = 76 MiB) fits this machine;
    under a 50 MiB limit the dual one (8 × 3000² + 20 × 3000 × 2000 B = 183 MiB) is bigger
    still, so auto refuses naming the primal form."""
    assert not ease.choose_solver("auto", 3000, 2000)
    monkeypatch.setattr(ease, "memory_limit", lambda: 50 * 2**20)
    with pytest.raises(ConfigError, match="primal solver"):
        ease.choose_solver("auto", 3000, 2000)
    # few users, many items: the primal form would not fit, the dual one does
    assert ease.choose_solver("auto", 30, 50_000)
    with pytest.raises(ConfigError, match="items × items"):
        ease.choose_solver("primal", 30, 50_000)


@pytest.mark.parametrize("shrinkage", [0.0, 2.0])
def test_itemknn_sparse_blocks_equal_the_dense_blocks(monkeypatch, shrinkage):
    """Weighted (tie-free) data: the sparse co-occurrence path keeps the same top-k
    similarities as the dense path, also when a block holds a single item."""
    from recsys_engine.models import itemknn

    rng = np.random.default_rng(3)
    dense = (rng.random((30, 40)) < 0.3) * rng.uniform(1, 5, (30, 40))
    data = TrainData(
        matrix=sp.csr_matrix(dense.astype(np.float32)),
        user_ids=np.array([f"u{u}" for u in range(30)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(40)], dtype=object),
    )
    cfg = {"neighbours": 4, "binary": False, "shrinkage": shrinkage}
    reference = create_model("itemknn", cfg).fit(data).similarity
    monkeypatch.setattr(itemknn, "DENSE_ITEMS", 0)
    model = create_model("itemknn", cfg).fit(data)
    np.testing.assert_allclose(model.similarity.toarray(), reference.toarray(), rtol=1e-5)
    tiny_blocks = itemknn.sparse_top_k(
        data.matrix.T.tocsr(),
        np.sqrt((dense**2).sum(axis=0)).astype(np.float32),
        4,
        shrinkage,
        block_pairs=1,
    )
    np.testing.assert_allclose(tiny_blocks.toarray(), reference.toarray(), rtol=1e-5)


def test_itemknn_on_a_50k_catalogue_keeps_sparse_top_k_in_bounded_memory():
    """A dense 50k × 50k similarity would be 10 GB (and a dense block 50k wide per item
    block takes minutes); the sparse path's Python-side peak stays small and the model
    keeps at most k neighbours per item."""
    data = sparse_train(60, 50_000, per_user=10)
    model = create_model("itemknn", {"neighbours": 5})
    tracemalloc.start()
    try:
        model.fit(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20
    s = model.similarity
    assert sp.issparse(s) and s.shape == (50_000, 50_000)
    assert np.diff(s.tocsc().indptr).max() <= 5
