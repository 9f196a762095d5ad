"""The model contract (DESIGN §4), checked for every model in the registry.

Parametrised over ``list_models()``, so a newly registered model is held to the contract
without touching this file: fit, score, recommend, explain, similar items, the save/load
round-trip and the config's JSON round-trip. Model-specific behaviour (quality on planted
data, exact explanations, ratings) stays in ``test_models_reference.py`` and
``test_models_keras.py``.

The dataset is tiny and deterministic, with everything any model may need: implicit
interactions in time order (``transitions``), explicit ratings (``mf_explicit``) and item
metadata (``content``, ``hybrid``). Each model runs its default config made small through
the settings it has (``SMALL``), so the whole file takes seconds, not minutes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models import create_model, get_model, list_models
from recsys_engine.models.base import Explanation, Recommender
from recsys_engine.models.data import TrainData

MODEL_NAMES = [spec.name for spec in list_models()]
N_CLUSTERS, PER_CLUSTER, N_USERS = 4, 6, 48
WORDS = ("alpha", "bravo", "charlie", "delta")
K = 5
#: Overrides applied to a model's default config where it has the setting: few epochs and
#: small dimensions keep fitting fast; the contract does not depend on training quality.
SMALL: dict[str, Any] = {
    "epochs": 2,
    "patience": 0,
    "dim": 8,
    "content_dim": 4,
    "factors": 4,
    "mlp_layers": [8, 4],
    "min_df": 1,
    "holdout": 0.0,
    "neighbours": 10,
    "max_len": 5,
    "blocks": 1,
    "hidden_dims": [8],
    "latent_dim": 4,
}


def small_config(name: str) -> dict[str, Any]:
    """The ``SMALL`` settings that model ``name``'s config class has."""
    fields = {f.name for f in dataclasses.fields(get_model(name).config_class)}
    return {key: value for key, value in SMALL.items() if key in fields}


def tiny() -> TrainData:
    """Four taste clusters of six items; each user rates four items of one cluster (1–5).

    Titles, text and categories name the item's cluster, so content models can learn too.
    """
    rng = np.random.default_rng(3)
    users, items, ratings, times = [], [], [], []
    for u in range(N_USERS):
        c = u % N_CLUSTERS
        for t, i in enumerate(rng.choice(PER_CLUSTER, 4, replace=False) + c * PER_CLUSTER):
            users.append(f"u{u:02d}")
            items.append(f"i{i:02d}")
            ratings.append(float(rng.integers(1, 6)))
            times.append(float(t))
    n_items = N_CLUSTERS * PER_CLUSTER
    item_ids = [f"i{i:02d}" for i in range(n_items)]
    data = TrainData.from_interactions(users, items, item_ids=item_ids, timestamps=times)
    data.ratings = TrainData.from_interactions(users, items, ratings, item_ids=item_ids).matrix
    data.items = pd.DataFrame(
        {
            "item_id": item_ids,
            "title": [f"{WORDS[i // PER_CLUSTER]} story {i}" for i in range(n_items)],
            "text": [f"a {WORDS[i // PER_CLUSTER]} tale" for i in range(n_items)],
            "categories": [[f"genre{i // PER_CLUSTER}"] for i in range(n_items)],
            "numeric": [json.dumps({"year": 1990 + i}) for i in range(n_items)],
        }
    )
    return data


def one_item(item: int, n_items: int) -> sp.csr_matrix:
    """A history holding only ``item``."""
    return sp.csr_matrix((np.ones(1, dtype=np.float32), ([0], [item])), shape=(1, n_items))


@pytest.fixture(scope="module")
def data() -> TrainData:
    return tiny()


@pytest.fixture(scope="module", params=MODEL_NAMES)
def model(request: pytest.FixtureRequest, data: TrainData) -> Recommender:
    """Each registered model, fitted once on the tiny dataset."""
    fitted = create_model(request.param, small_config(request.param)).fit(data)
    assert isinstance(fitted, Recommender) and fitted.name == request.param
    return fitted


@pytest.fixture(scope="module")
def rows(data: TrainData) -> sp.csr_matrix:
    """Histories of training users: every model can score them, per-user models too."""
    return data.matrix[:8]


def test_score_shape_and_item_subset(model: Recommender, rows: sp.csr_matrix) -> None:
    assert model.can_score(rows).all()
    scores = model.score(rows)
    assert scores.shape == (8, model.n_items) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    subset = np.array([3, 7, 0])
    np.testing.assert_allclose(model.score(rows, subset), scores[:, subset], rtol=1e-5, atol=1e-6)


def test_recommend_is_sorted_and_excludes_seen(model: Recommender, rows: sp.csr_matrix) -> None:
    items, scores = model.recommend(rows, k=K)
    assert items.shape == (8, K) and scores.shape == (8, K)
    assert (items >= 0).all() and (items < model.n_items).all()
    assert (np.diff(scores, axis=1) <= 0).all()  # best first
    for row, history in zip(items, rows, strict=True):
        assert not set(row) & set(history.indices)  # seen items excluded
    with_seen, _ = model.recommend(rows, k=K, exclude_seen=False)
    assert with_seen.shape == (8, K)


def test_explain_a_recommended_item(model: Recommender, rows: sp.csr_matrix) -> None:
    history = rows[:1]
    item = int(model.recommend(history, k=K)[0][0, 0])
    e = model.explain(history, item)
    assert isinstance(e, Explanation) and e.item == item
    score = float(model.score(history, np.array([item]))[0, 0])
    assert abs(e.score - score) < 1e-4 * max(1.0, abs(score))
    assert list(e.history_items) == list(history.indices)
    assert len(e.contributions) == len(e.history_items)
    if e.exact:
        assert abs(e.base + float(np.sum(e.contributions)) - e.score) < 1e-4 * max(1.0, abs(score))


def test_similar_items_or_a_clear_cannot_score(model: Recommender) -> None:
    """``similar_items`` scores a one-item history. A model that cannot score histories it
    never saw (per-user embeddings) says so through ``can_score`` and NaN scores; callers
    (the Explain page) then use its item vectors instead."""
    history = one_item(3, model.n_items)
    if not model.can_score(history)[0]:
        assert not np.isfinite(model.score(history)).any()
        return
    similar, scores = model.similar_items(3, k=4)
    assert similar.shape == (4,) and scores.shape == (4,)
    assert 3 not in similar and (similar >= 0).all()
    assert (np.diff(scores) <= 0).all()


def test_new_history_is_scored_or_refused(model: Recommender) -> None:
    """A history never seen in training: finite scores, or ``can_score`` False and NaN."""
    new = sp.csr_matrix(
        (np.ones(3, dtype=np.float32), ([0, 0, 0], [1, 8, 20])), shape=(1, model.n_items)
    )
    scores = model.score(new)
    if model.can_score(new)[0]:
        assert np.isfinite(scores).all()
    else:
        assert not np.isfinite(scores).any()


def test_save_load_gives_the_same_scores(
    model: Recommender, rows: sp.csr_matrix, tmp_path: Path
) -> None:
    path = model.save(tmp_path / "m")
    assert (path / "model.json").exists()
    scores = model.score(rows)
    top = model.recommend(rows, k=K)[0]
    # the model's own loader and the registry's (whichever model was saved) agree
    for loaded in (type(model).load(path), Recommender.load(path)):
        assert type(loaded) is type(model) and loaded.config == model.config
        assert list(loaded.item_ids) == list(model.item_ids)
        np.testing.assert_array_equal(loaded.score(rows), scores)
        np.testing.assert_array_equal(loaded.recommend(rows, k=K)[0], top)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_round_trips_through_json(name: str) -> None:
    """What runs store (``to_dict`` as JSON) builds the same config back, for the default
    config and the small one; tuples stored as JSON lists come back as tuples."""
    spec = get_model(name)
    for config in (spec.config_class(), create_model(name, small_config(name)).config):
        stored = config.to_dict()
        again = spec.config_class.from_dict(json.loads(json.dumps(stored)))
        assert again == config
        assert again.to_dict() == stored
        assert spec.config_class.from_stored(json.loads(json.dumps(stored))) == config


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_refuses_unknown_keys(name: str) -> None:
    with pytest.raises(ConfigError, match="unknown config key"):
        create_model(name, {"no_such_option": 1})
