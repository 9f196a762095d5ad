"""Mult-VAE settings beyond the paper's defaults: the popularity prior on the output
bias, the decoder-only L2 penalty, no hidden layer, and distinct initial weights per
layer. Values are worked out by hand on tiny inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_engine.models import create_model
from recsys_engine.models import mult_vae as mv
from recsys_engine.models.data import TrainData

N_CLUSTERS, PER_CLUSTER, N_USERS = 3, 5, 36
SMALL = {"epochs": 40, "patience": 0, "latent_dim": 8, "batch_size": 12}


@pytest.fixture(scope="module")
def data() -> TrainData:
    """Three taste clusters of five items; each user has three items of one cluster, and
    item 14 (the last) is never seen in training."""
    rng = np.random.default_rng(7)
    users, items = [], []
    for u in range(N_USERS):
        c = u % N_CLUSTERS
        pool = PER_CLUSTER - 1 if c == N_CLUSTERS - 1 else PER_CLUSTER
        for i in rng.choice(pool, 3, replace=False) + c * PER_CLUSTER:
            users.append(f"u{u:02d}")
            items.append(f"i{i:02d}")
    ids = [f"i{i:02d}" for i in range(N_CLUSTERS * PER_CLUSTER)]
    return TrainData.from_interactions(users, items, item_ids=ids)


def test_log_popularity_by_hand() -> None:
    # item counts 2, 0, 1 → log 3, log 1, log 2; their mean is (log 6) / 3
    x = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0]], dtype=np.float32))
    mean = math.log(6.0) / 3
    expected = [math.log(3.0) - mean, -mean, math.log(2.0) - mean]
    np.testing.assert_allclose(mv.log_popularity(x), expected, rtol=1e-6)


def test_prior_bias_starts_the_output_bias_at_log_popularity(data: TrainData) -> None:
    # a step size of 1e-9 moves no weight by more than ~1e-8 in 3 steps: the bias read
    # back is the initial one
    config = {**SMALL, "epochs": 1, "learning_rate": 1e-9, "hidden_dims": [4]}
    x = mv.binary(data.matrix)
    with_prior = create_model("mult_vae", {**config, "prior_bias": True}).fit(data)
    np.testing.assert_allclose(with_prior.arrays["out_bias"], mv.log_popularity(x), atol=1e-6)
    # the never-seen item starts lowest, the paper's random bias is near 0 everywhere
    assert int(np.argmin(with_prior.arrays["out_bias"])) == N_CLUSTERS * PER_CLUSTER - 1
    plain = create_model("mult_vae", {**config, "prior_bias": False}).fit(data)
    assert np.abs(plain.arrays["out_bias"]).max() < 0.01


def test_decoder_l2_penalises_the_output_kernel_only() -> None:
    from recsys_engine.models.mult_vae_layers import MultAutoencoder

    layer = MultAutoencoder(3, hidden_dims=(2,), latent_dim=1, l2=0.0, decoder_l2=0.5)
    layer.build((None, 3))
    for dense in [*layer.encoder, *layer.decoder, layer.mean, layer.log_var]:
        dense.kernel.assign(np.ones(dense.kernel.shape, dtype=np.float32))
    layer.output_layer.kernel.assign(np.array([[1, 2, 0], [0, 0, 3]], dtype=np.float32))
    layer(np.ones((1, 3), dtype=np.float32))
    # 0.5 · (1 + 4 + 9) = 7; the other kernels (all ones) add nothing
    assert float(sum(np.asarray(v) for v in layer.losses)) == pytest.approx(7.0)
    restored = MultAutoencoder.from_config(layer.get_config())
    assert restored.decoder_l2 == 0.5 and restored.l2 == 0.0


def test_layers_of_one_shape_start_from_different_draws() -> None:
    from recsys_engine.models.mult_vae_layers import MultAutoencoder

    layer = MultAutoencoder(6, hidden_dims=(4, 4), latent_dim=4, seed=3)
    layer.build((None, 6))
    mean, log_var = np.asarray(layer.mean.kernel), np.asarray(layer.log_var.kernel)
    assert not np.allclose(mean, log_var)  # a seeded initialiser repeats its draw
    second, first_dec = np.asarray(layer.encoder[1].kernel), np.asarray(layer.decoder[1].kernel)
    assert not np.allclose(second, first_dec)
    again = MultAutoencoder(6, hidden_dims=(4, 4), latent_dim=4, seed=3)
    again.build((None, 6))
    np.testing.assert_array_equal(np.asarray(again.mean.kernel), mean)  # still seeded


@pytest.mark.parametrize("kind", ["vae", "dae"])
def test_no_hidden_layer_learns_and_scores_like_keras(kind: str, data: TrainData) -> None:
    model = create_model(
        "mult_vae", {**SMALL, "hidden_dims": [], "kind": kind, "learning_rate": 0.01}
    ).fit(data)
    assert not any(k.startswith(("enc", "dec")) for k in model.arrays)
    rows = data.matrix[:10]
    keras_logits = model._keras_model(rows.toarray(), training=False)["logits"]
    np.testing.assert_allclose(model.score(rows), np.asarray(keras_logits), rtol=1e-4, atol=1e-5)
    top, _ = model.recommend(data.matrix, k=1)
    cluster = np.arange(N_USERS) % N_CLUSTERS
    assert np.mean(top[:, 0] // PER_CLUSTER == cluster) >= 0.9


def test_memory_need_without_hidden_layers_by_hand() -> None:
    # VAE: mean and log-variance (2 × 200) + output 200 + bias 1 per item, 4 copies,
    # plus 8 dense batch rows of 64
    vae = mv.MultVAEConfig(hidden_dims=[], latent_dim=200)
    assert mv.training_bytes(vae, 1000) == 4 * (4 * 1000 * 601 + 8 * 64 * 1000)
    dae = mv.MultVAEConfig(hidden_dims=[], latent_dim=200, kind="dae")
    assert mv.training_bytes(dae, 1000) == 4 * (4 * 1000 * 401 + 8 * 64 * 1000)


def test_runs_stored_before_the_prior_keep_the_random_bias() -> None:
    stored = {**mv.MultVAEConfig(hidden_dims=[600]).to_dict()}
    del stored["prior_bias"], stored["decoder_l2"]
    old = mv.MultVAEConfig.from_stored(stored)
    assert old.prior_bias is False and old.decoder_l2 == 0.0 and old.hidden_dims == (600,)
    assert mv.MultVAEConfig().prior_bias is True and mv.MultVAEConfig().hidden_dims == ()
