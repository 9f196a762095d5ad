"""Reference models (popularity, Item-kNN, EASE): what each must do beyond the contract.

The contract itself (fit, score, recommend, explain, save/load) is checked for every
registered model in ``test_models_contract.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError, FitCancelled, RecsysError
from recsys_engine.models import FAMILIES, create_model, get_model, list_models
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import TrainData, top_k

# The reference family; the Keras families have their own tests (slower, TF).
MODEL_NAMES = [spec.name for spec in list_models("reference")]


def checkerboard(n_a: int = 12, n_b: int = 6, items_a: int = 6, items_b: int = 5):
    """Two taste groups: group A users use items a0..a5, group B users b0..b4.

    User A0 misses a0 (held out): every model must rank a0 first for A0.
    """
    users, items = [], []
    for u in range(n_a):
        for i in range(items_a):
            if (u, i) != (0, 0):
                users.append(f"A{u}")
                items.append(f"a{i}")
    for u in range(n_b):
        for i in range(items_b):
            users.append(f"B{u}")
            items.append(f"b{i}")
    return TrainData.from_interactions(users, items)


@pytest.fixture
def toy():
    return checkerboard()


@pytest.fixture
def random_train():
    rng = np.random.default_rng(0)
    x = sp.random(80, 120, density=0.08, random_state=rng, format="csr", dtype=np.float32)
    x.data[:] = rng.integers(1, 5, size=x.nnz)
    users = [f"u{i}" for i in range(80)]
    items = [f"i{i}" for i in range(120)]
    coo = x.tocoo()
    return TrainData.from_interactions(
        np.array(users)[coo.row], np.array(items)[coo.col], coo.data, user_ids=users, item_ids=items
    )


def test_registry_entries():
    assert {"popularity", "itemknn", "ease"} <= set(MODEL_NAMES)
    for spec in list_models():
        assert spec.family in FAMILIES
        assert spec.description and "\n" not in spec.description
        assert issubclass(spec.cls, Recommender)
        assert spec.cls.name == spec.name
        assert spec.config_class is spec.cls.config_class
        assert isinstance(spec.default_config(), dict)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        get_model("nope")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_new_histories_and_similar_items_are_scored(name, random_train):
    """History-based models score any history (the contract lets per-user models refuse)."""
    model = create_model(name).fit(random_train)
    new = sp.csr_matrix(
        (np.ones(3, dtype=np.float32), ([0, 0, 0], [1, 2, 5])), shape=(1, random_train.n_items)
    )
    assert model.can_score(new).all() and np.isfinite(model.score(new)).all()
    similar, _ = model.similar_items(3, k=4)
    assert similar.shape == (4,) and 3 not in similar and (similar >= 0).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_held_out_item_ranks_first_on_checkerboard(name, toy):
    model = create_model(name).fit(toy)
    user = toy.user_index(["A0"])[0]
    items, _ = model.recommend(toy.matrix[[user]], k=3)
    assert toy.item_ids[items[0, 0]] == "a0"
    # group B users get B items on top (except popularity, which is the same for all)
    if name != "popularity":
        b_user = toy.user_index(["B1"])[0]
        hist = toy.matrix[[b_user]].tolil()
        hist[0, toy.item_index(["b0"])[0]] = 0
        items, _ = model.recommend(sp.csr_matrix(hist), k=1)
        assert toy.item_ids[items[0, 0]] == "b0"


@pytest.mark.parametrize(
    ("name", "config", "field"),
    [
        ("itemknn", {"neighbours": 0}, "neighbours"),
        ("itemknn", {"shrinkage": -1.0}, "shrinkage"),
        ("itemknn", {"neighbours": "ten"}, "neighbours"),
        ("ease", {"l2": 0}, "l2"),
        ("ease", {"solver": "magic"}, "solver"),
        ("popularity", {"weighted": "yes"}, "weighted"),
    ],
)
def test_config_values_validated(name, config, field):
    with pytest.raises(ConfigError, match=field):
        create_model(name, config)


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("itemknn", {"neighbours": 10}),
        ("itemknn", {"shrinkage": 5.0, "binary": False}),
        ("ease", {"solver": "primal", "l2": 10.0}),
        ("ease", {"solver": "dual", "l2": 10.0}),
        ("ease", {"binary": False, "l2": 3.0}),
    ],
)
def test_explanations_sum_to_score(name, config, random_train):
    model = create_model(name, config).fit(random_train)
    rng = np.random.default_rng(1)
    for u in range(0, 80, 7):
        history = random_train.matrix[[u]]
        scores = model.score(history)[0]
        for item in rng.choice(random_train.n_items, size=5, replace=False):
            exp = model.explain(history, int(item))
            assert exp.exact
            assert list(exp.history_items) == list(history.indices)
            assert abs(exp.base + exp.contributions.sum() - exp.score) < 1e-6
            # the float32 ranking score agrees to float32 precision of the summed parts
            scale = max(1.0, float(np.abs(exp.contributions).sum()))
            assert abs(exp.score - scores[item]) < 1e-6 * scale


def test_popularity_explanation_is_its_base(random_train):
    model = create_model("popularity").fit(random_train)
    exp = model.explain(random_train.matrix[[0]], 5)
    assert exp.exact and exp.base == exp.score == model.counts[5]
    assert not exp.contributions.any()


def test_ease_primal_and_dual_agree(random_train):
    primal = create_model("ease", {"solver": "primal", "l2": 20.0}).fit(random_train)
    dual = create_model("ease", {"solver": "dual", "l2": 20.0}).fit(random_train)
    h = random_train.matrix
    np.testing.assert_allclose(primal.score(h), dual.score(h), atol=1e-5)
    assert dual.dual and not primal.dual
    auto = create_model("ease", {"l2": 20.0}).fit(random_train)  # 80 users < 120 items
    assert auto.dual


def test_ease_matches_closed_form(random_train):
    x = random_train.matrix.toarray()
    x[x > 0] = 1
    lam = 15.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    model = create_model("ease", {"l2": lam, "solver": "primal"}).fit(random_train)
    np.testing.assert_allclose(model.score(random_train.matrix), x @ b, atol=1e-5)


def test_itemknn_neighbourhood_and_cosine():
    # items 0 and 1 always together, item 2 with 0 once
    train = TrainData.from_interactions(
        ["u1", "u1", "u2", "u2", "u3", "u3"], ["i0", "i1", "i0", "i1", "i0", "i2"]
    )
    model = create_model("itemknn", {"neighbours": 1}).fit(train)
    s = model.similarity.toarray()
    assert s[1, 0] == pytest.approx(2 / np.sqrt(3 * 2))  # cos(i0, i1)
    # i0 keeps only its single nearest neighbour (i1), so i2 cannot raise i0's score
    assert s[2, 0] == 0.0
    assert s[0, 2] == pytest.approx(1 / np.sqrt(3))


def test_fit_can_be_cancelled(random_train):
    calls = []

    def progress(done, total, info):
        calls.append((done, total))

    with pytest.raises(FitCancelled):
        create_model("ease").fit(random_train, on_progress=progress, should_stop=lambda: True)
    assert calls
    assert issubclass(FitCancelled, RecsysError)


def test_unfitted_model_and_bad_inputs(random_train, tmp_path):
    model = create_model("ease")
    with pytest.raises(RecsysError, match="not fitted"):
        model.score(random_train.matrix)
    model.fit(random_train)
    with pytest.raises(ConfigError, match="item columns"):
        model.score(sp.csr_matrix((1, 3)))
    with pytest.raises(ConfigError, match="item index"):
        model.similar_items(10_000)
    with pytest.raises(RecsysError, match="no saved model"):
        Recommender.load(tmp_path / "missing")


def test_top_k_pads_and_orders():
    scores = np.array([[0.1, 0.5, -np.inf], [1.0, 1.0, 0.0]], dtype=np.float32)
    items, top = top_k(scores, 4)
    assert items.tolist() == [[1, 0, -1, -1], [0, 1, 2, -1]]
    assert np.isneginf(top[0, 2:]).all()


def test_top_k_on_a_big_catalogue_equals_a_full_sort():
    """Above 4·k blocks of 64 items top_k goes through block maxima: same lists as sorting
    every score (distinct scores), with a partial last block, a best item in it, rows whose
    best items share one block, and masked (-inf) items."""
    rng = np.random.default_rng(3)
    m = 64 * 250 + 37  # 250 full blocks (> 4 · 50) and a tail of 37
    scores = rng.permutation(6 * m).reshape(6, m).astype(np.float32)  # distinct per row
    scores[1, -1] = 10 * m  # the best item in the tail
    scores[2, 640:690] += 10 * m  # the 50 best in one block (and the next)
    scores[3, rng.choice(m, m // 2, replace=False)] = -np.inf
    scores[4, 5:] = -np.inf  # fewer finite items than k
    items, top = top_k(scores, 50)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :50]
    expected = np.where(np.isneginf(np.take_along_axis(scores, order, 1)), -1, order)
    np.testing.assert_array_equal(items[[0, 1, 2, 3, 5]], expected[[0, 1, 2, 3, 5]])
    assert items[1, 0] == m - 1 and sorted(items[2]) == list(range(640, 690))
    assert sorted(items[4, :5]) == [0, 1, 2, 3, 4] and (items[4, 5:] == -1).all()
    np.testing.assert_array_equal(top[0], np.take_along_axis(scores, order, 1)[0])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fits_ml_latest_small(name):
    """The whole of ml-latest-small fits (its fit time is printed by bench/budgets.py)."""
    import pandas as pd
    from conftest import shared_dataset

    path = shared_dataset("ml-latest-small")
    df = pd.read_csv(path / "ratings.csv")
    train = TrainData.from_interactions(df.userId.astype(str), df.movieId.astype(str))
    model = create_model(name).fit(train)
    assert model.n_items == train.n_items
