"""Mult-VAE / Mult-DAE: the loss against hand-computed values, deterministic scoring,
save/load, re-scoring explanations and the memory refusal.

The loss examples zero every kernel, so the logits are the output bias whatever the latent
sample is: the multinomial log-likelihood and the KL term are then numbers worked out by
hand (below), and the VAE's random draw cannot move them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.explain.history import history_reason
from recsys_engine.explain.results import POST_HOC, RESCORED, follow_evidence
from recsys_engine.models import create_model, get_model
from recsys_engine.models import mult_vae as mv
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import TrainData
from recsys_engine.models.rescoring import RescoredExplanation, drop_each

N_CLUSTERS, PER_CLUSTER, N_USERS = 3, 5, 36


def clusters() -> TrainData:
    """Three taste clusters of five items; each user has three items of one cluster."""
    rng = np.random.default_rng(7)
    users, items = [], []
    for u in range(N_USERS):
        c = u % N_CLUSTERS
        for i in rng.choice(PER_CLUSTER, 3, replace=False) + c * PER_CLUSTER:
            users.append(f"u{u:02d}")
            items.append(f"i{i:02d}")
    ids = [f"i{i:02d}" for i in range(N_CLUSTERS * PER_CLUSTER)]
    return TrainData.from_interactions(users, items, item_ids=ids)


SMALL = {"epochs": 40, "patience": 0, "hidden_dims": [16], "latent_dim": 8, "batch_size": 12}


@pytest.fixture(scope="module")
def data() -> TrainData:
    return clusters()


@pytest.fixture(scope="module")
def vae(data: TrainData) -> mv.MultVAE:
    return create_model("mult_vae", {**SMALL, "learning_rate": 0.01}).fit(data)


@pytest.fixture(scope="module")
def dae(data: TrainData) -> mv.MultVAE:
    return create_model("mult_vae", {**SMALL, "kind": "dae", "learning_rate": 0.01}).fit(data)


def hand_layer(kind: str):
    """A 3-item autoencoder (hidden 2, latent 1) with every kernel 0: logits = output
    bias (0, ln 2, 0), i.e. softmax (1/4, 1/2, 1/4); latent mean 1, variance 1/2."""
    from recsys_engine.models.mult_vae_layers import MultAutoencoder

    layer = MultAutoencoder(
        3,
        hidden_dims=(2,),
        latent_dim=1,
        kind=kind,
        dropout=0.0,
        beta_cap=0.3,
        anneal_steps=2,
    )
    layer.build((None, 3))
    for dense in [*layer.encoder, *layer.decoder, layer.mean, layer.output_layer]:
        dense.kernel.assign(np.zeros(dense.kernel.shape, dtype=np.float32))
        dense.bias.assign(np.zeros(dense.bias.shape, dtype=np.float32))
    layer.mean.bias.assign(np.array([1.0], dtype=np.float32))
    if layer.log_var is not None:
        layer.log_var.kernel.assign(np.zeros((2, 1), dtype=np.float32))
        layer.log_var.bias.assign(np.array([math.log(0.5)], dtype=np.float32))
    layer.output_layer.bias.assign(np.array([0.0, math.log(2.0), 0.0], dtype=np.float32))
    return layer


def step_loss(layer, x: np.ndarray) -> float:
    """The training objective as ``fit_keras`` computes it: per-row loss summed over the
    batch and divided by its size (no regularisation here)."""
    from recsys_engine.models.mult_vae_layers import multinomial_loss

    per_row = multinomial_loss(x, layer(x, training=True))
    return float(np.sum(np.asarray(per_row))) / len(x)


X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
# row 1: −(ln ¼ + ln ¼) = 4 ln 2; row 2: −ln ½ = ln 2; batch mean 2.5 ln 2
NLL = 2.5 * math.log(2.0)
# KL(N(1, ½) ‖ N(0, 1)) = ½ (σ² + μ² − 1 − ln σ²) = ½ (½ + 1 − 1 + ln 2) = ¼ + ½ ln 2
KL = 0.25 + 0.5 * math.log(2.0)


def test_vae_loss_is_the_multinomial_likelihood_plus_annealed_kl() -> None:
    layer = hand_layer("vae")
    # β_t = min(0.3, t / 2): 0 at the first step, then capped at 0.3
    assert step_loss(layer, X) == pytest.approx(NLL, rel=1e-5)
    assert step_loss(layer, X) == pytest.approx(NLL + 0.3 * KL, rel=1e-5)
    assert step_loss(layer, X) == pytest.approx(NLL + 0.3 * KL, rel=1e-5)
    assert float(np.asarray(layer.steps_done)) == 3.0
    out = layer(X, training=False)
    np.testing.assert_allclose(np.asarray(out["kl"]), [KL, KL], rtol=1e-5)


def test_dae_has_no_kl_term() -> None:
    layer = hand_layer("dae")
    assert layer.log_var is None
    for _ in range(3):  # past the annealing: still the likelihood alone
        assert step_loss(layer, X) == pytest.approx(NLL, rel=1e-5)
    assert np.all(np.asarray(layer(X, training=True)["kl"]) == 0.0)


def test_scoring_is_deterministic_latent_mean_without_dropout(
    vae: mv.MultVAE, data: TrainData
) -> None:
    rows = data.matrix[:10]
    first = vae.score(rows)
    np.testing.assert_array_equal(vae.score(rows), first)
    # the numpy scorer is the Keras network at inference (no dropout, z = latent mean)
    keras_logits = vae._keras_model(rows.toarray(), training=False)["logits"]
    np.testing.assert_allclose(first, np.asarray(keras_logits), rtol=1e-4, atol=1e-5)
    # training mode draws dropout and a latent sample: not what scoring does
    noisy = np.asarray(vae._keras_model(rows.toarray(), training=True)["logits"])
    assert not np.allclose(noisy, first, atol=1e-3)


def test_model_learns_the_clusters(vae: mv.MultVAE, dae: mv.MultVAE, data: TrainData) -> None:
    for model in (vae, dae):
        top, _ = model.recommend(data.matrix, k=1)
        cluster = np.arange(N_USERS) % N_CLUSTERS
        assert np.mean(top[:, 0] // PER_CLUSTER == cluster) >= 0.9


@pytest.mark.parametrize("which", ["vae", "dae"])
def test_save_load_gives_identical_scores(
    which: str, vae: mv.MultVAE, dae: mv.MultVAE, data: TrainData, tmp_path: Path
) -> None:
    model = vae if which == "vae" else dae
    path = model.save(tmp_path / which)
    assert (path / "model.keras").exists()
    loaded = Recommender.load(path)
    assert type(loaded) is mv.MultVAE and loaded.config == model.config
    np.testing.assert_array_equal(loaded.score(data.matrix), model.score(data.matrix))


def test_each_rescoring_contribution_is_the_score_change_it_claims(
    vae: mv.MultVAE, data: TrainData
) -> None:
    history = data.matrix[4:5]
    item = int(vae.recommend(history, k=1)[0][0, 0])
    ex = vae.explain(history, item)
    assert isinstance(ex, RescoredExplanation) and not ex.exact
    assert list(ex.history_items) == list(history.indices)
    full = float(vae.score(history, np.array([item]))[0, 0])
    assert ex.score == pytest.approx(full, abs=1e-6)
    empty = sp.csr_matrix((1, vae.n_items), dtype=np.float32)
    assert ex.base == pytest.approx(float(vae.score(empty, np.array([item]))[0, 0]), abs=1e-6)
    for j, removed in enumerate(ex.history_items):
        kept = [i for i in history.indices if i != removed]
        h = sp.csr_matrix((np.ones(len(kept)), ([0] * len(kept), kept)), shape=history.shape)
        without = float(vae.score(h, np.array([item]))[0, 0])
        assert ex.contributions[j] == pytest.approx(full - without, abs=1e-5)


def test_drop_each_removes_one_item_per_row() -> None:
    h = sp.csr_matrix(np.array([[0, 2, 0, 3, 5]], dtype=np.float32))
    out = drop_each(h).toarray()
    np.testing.assert_array_equal(out, [[0, 0, 0, 3, 5], [0, 2, 0, 0, 5], [0, 2, 0, 3, 0]])


def test_history_reason_is_verified_by_rescoring(vae: mv.MultVAE, data: TrainData) -> None:
    history = data.matrix[4:5]
    item = int(vae.recommend(history, k=1)[0][0, 0])
    score = float(vae.score(history, np.array([item]))[0, 0])
    ids = np.asarray(data.item_ids, dtype=object)
    reason, order, parts = history_reason(
        vae, history, item, score, item_ids=ids, titles=ids, vectors=None, per_user=False
    )
    follow_evidence(reason)
    assert reason.fidelity == RESCORED and reason.downgraded is None
    assert reason.check["rescored"] and reason.check["verified"]
    assert reason.check["max_gap"] <= 1e-5
    drops = [r["contribution"] for r in reason.rows]
    assert drops == sorted(drops, reverse=True) and parts is None
    assert set(order) <= set(history.indices)


def test_similar_items_uses_decoder_vectors(vae: mv.MultVAE) -> None:
    items, scores = vae.similar_items(0, k=3)
    assert 0 not in items and (np.diff(scores) <= 0).all()
    v = vae.arrays["out_kernel"].T
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert scores[0] == pytest.approx(float(v[items[0]] @ v[0]), abs=1e-5)


def test_memory_refusal_names_the_need_and_the_alternative(
    monkeypatch: pytest.MonkeyPatch, data: TrainData
) -> None:
    cfg = mv.MultVAEConfig(hidden_dims=[600])
    # 600 + 600 + 1 floats per item, 4 copies, plus 8 dense batch rows of 64: by hand
    assert mv.training_bytes(cfg, 1000) == 4 * (4 * 1000 * 1201 + 8 * 64 * 1000)
    with pytest.raises(ConfigError) as err:
        mv.check_memory(cfg, 50_000_000)
    message = str(err.value)
    assert message.startswith("Mult-VAE on 50,000,000 items would need about")
    assert "use Two-tower (sampled softmax) or Item-kNN" in message
    assert message.count(".") <= 3  # one sentence (decimal points aside)
    monkeypatch.setattr(mv, "memory_limit", lambda: 1000)
    with pytest.raises(ConfigError, match="half this machine's memory"):
        create_model("mult_vae", SMALL).fit(data)


def test_config_checks_and_registry() -> None:
    spec = get_model("mult_vae")
    assert spec.family == "autoencoder" and spec.title == "Mult-VAE"
    assert mv.MultVAEConfig(hidden_dims=[8, 4]).hidden_dims == (8, 4)
    with pytest.raises(ConfigError, match="kind"):
        mv.MultVAEConfig(kind="gan")
    assert mv.MultVAEConfig(hidden_dims=[]).hidden_dims == ()  # no hidden layer
    with pytest.raises(ConfigError, match="hidden_dims"):
        mv.MultVAEConfig(hidden_dims=[0])
    with pytest.raises(ConfigError, match="hidden_dims"):
        mv.MultVAEConfig(hidden_dims="600")
    with pytest.raises(ConfigError, match="dropout"):
        mv.MultVAEConfig(dropout=1.0)


def test_explainer_badges_and_counterfactual(vae: mv.MultVAE, data: TrainData) -> None:
    """Through the Explain page's ``Explainer``: the history reason is verified by
    re-scoring, and "what would change it" re-scores edited histories."""
    import pandas as pd

    from recsys_engine.explain import Explainer
    from recsys_engine.split_data import SplitData

    n_items = N_CLUSTERS * PER_CLUSTER
    users = np.arange(N_USERS)
    # each user's test item: the first cluster item not in their training history
    test_items = [
        next(i for i in range((u % 3) * 5, (u % 3) * 5 + 5) if i not in data.matrix[u].indices)
        for u in users
    ]
    test = sp.csr_matrix(
        (np.ones(N_USERS, dtype=np.float32), (users, test_items)), shape=(N_USERS, n_items)
    )
    data.items = pd.DataFrame(
        {
            "item_id": data.item_ids,
            "title": [f"Title {i}" for i in range(n_items)],
            "text": [""] * n_items,
            "categories": [[f"genre{i // PER_CLUSTER}"] for i in range(n_items)],
            "numeric": [None] * n_items,
        }
    )
    explainer = Explainer(vae, SplitData(train=data, seen=data.matrix, test=test))
    rec = explainer.recommend_user(str(data.user_ids[0]), k=3)
    assert len(rec.items) == 3
    for item in rec.items:
        because = item.reason("history")
        assert because.fidelity == RESCORED and because.check["verified"]
        assert len(because.rows) == 3
        change = item.reason("counterfactual")
        helped = any(r["contribution"] > 0 for r in because.rows)
        # with nothing that lifts the item there is nothing to remove: honestly unverified
        assert change.fidelity == (RESCORED if helped else POST_HOC)
    top = rec.items[0].reason("history")
    assert top.rows[0]["contribution"] > 0  # the best item is lifted by its own cluster


def test_presets_are_valid_and_quick_is_smaller() -> None:
    cls = mv.MultVAEConfig
    assert set(cls.presets) == {"quick", "thorough"}
    quick = create_model("mult_vae", cls.presets["quick"]).config
    default = cls()
    assert quick.epochs < default.epochs
    assert quick.hidden_dims == default.hidden_dims == () and quick.latent_dim < default.latent_dim
    create_model("mult_vae", cls.presets["thorough"])
    assert set(cls.advanced) <= {f for f in default.to_dict()}
