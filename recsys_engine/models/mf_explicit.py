"""Biased matrix factorisation of explicit ratings (the rating task: RMSE/MAE).

    r̂(u, i) = μ + b_u + b_i + ⟨p_u, q_i⟩

trained with squared error plus ``l2`` · (‖p_u‖² + ‖q_i‖² + b_u² + b_i²) per example. The
training fold has no validation ratings, so early stopping watches the RMSE of a random
``holdout`` share of the training ratings (those are not trained on). Ranking scores are
the predicted ratings of users known at fit time (see ``user_embedding.KnownUsers``); an unknown
user gets μ + b_i in ``predict_ratings`` and cannot be ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_engine.config import check_number
from recsys_engine.errors import ConfigError
from recsys_engine.models.base import ProgressFn, StopFn
from recsys_engine.models.data import TrainData
from recsys_engine.models.keras_backend import keras_backend
from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.models.keras_fit import fit_keras
from recsys_engine.models.search_space import Param, Range
from recsys_engine.models.user_embedding import KnownUsers, UserEmbeddingModel, weight_getter


@dataclass(frozen=True)
class MFExplicitConfig(KerasTrainConfig):
    """Explicit MF settings (plus the shared training settings).

    Attributes:
        factors: embedding size.
        l2: per-example L2 penalty on the user/item vectors and biases.
        holdout: share of the training ratings kept aside for early stopping (0 = none:
            train ``epochs`` epochs on everything).
    """

    advanced: ClassVar[tuple[str, ...]] = (*KerasTrainConfig.advanced, "l2", "holdout")
    search_space: ClassVar[dict[str, Param]] = {
        **KerasTrainConfig.search_space,
        "factors": Range(8, 256, log=True, integer=True),
        "l2": Range(1e-3, 1.0, log=True),
    }

    epochs: int = 40
    batch_size: int = 1024
    learning_rate: float = 3e-3
    patience: int = 3
    factors: int = 32
    l2: float = 0.1  # validation RMSE on ml-100k and ml-latest-small (BENCHMARKS.md)
    holdout: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("factors", self.factors, low=1, high=4096, integer=True)
        check_number("l2", self.l2, low=0)
        check_number("holdout", self.holdout, low=0, high=0.5)


class MFExplicit(UserEmbeddingModel):
    """Biased MF for explicit ratings."""

    name = "mf_explicit"
    config_class = MFExplicitConfig
    family = "collaborative"
    predicts_ratings = True

    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> MFExplicit:
        cfg = self.config
        if train.ratings is None or train.ratings.nnz == 0:
            raise ConfigError("mf_explicit needs explicit ratings; this dataset has none")
        ratings = sp.coo_matrix(train.ratings)
        users, items = ratings.row.astype(np.int32), ratings.col.astype(np.int32)
        values = ratings.data.astype(np.float32)
        rng = np.random.default_rng(int(cfg.seed))
        held = rng.random(len(values)) < float(cfg.holdout)
        if held.all():
            held[:] = False
        mu = float(values[~held].mean())
        n_users, n_items = train.ratings.shape
        keras = keras_backend()
        source = _Ratings(users[~held], items[~held], values[~held] - mu)

        def build():
            return build_mf(keras, n_users, n_items, cfg)

        validate = None
        if held.any():

            def validate(model):
                self._set_from_keras(model, mu)
                pred = self._predict(users[held], items[held])
                return float(np.sqrt(np.mean((pred - values[held]) ** 2)))

        l2 = float(cfg.l2)

        def loss(y, out):
            return (y[:, 0] - out[:, 0]) ** 2 + l2 * out[:, 1]

        self.item_ids = np.asarray(train.item_ids, dtype=object)
        self.known = KnownUsers(sp.csr_matrix(train.matrix))
        model, self.fit_result = fit_keras(
            build,
            source,
            cfg,
            loss=loss,
            validate=validate,
            higher_is_better=False,
            on_progress=on_progress,
            should_stop=should_stop,
            metric_name="val_rmse",
        )
        self._keras_model = model
        self._set_from_keras(model, mu)
        return self

    def _set_from_keras(self, model: Any, mu: float | None = None) -> None:
        get = weight_getter({v.path: np.asarray(v) for v in model.weights})
        if mu is None:
            mu = float(self.arrays["mu"])
        self._set_arrays(
            {
                "p": get("user_vectors"),
                "q": get("item_vectors"),
                "bu": get("user_bias")[:, 0],
                "bi": get("item_bias")[:, 0],
                "mu": np.asarray(mu, dtype=np.float64),
                "user_keys": self.known.keys,
            }
        )

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        a = self.arrays
        return (
            a["mu"]
            + a["bu"][users]
            + a["bi"][items]
            + np.einsum("ij,ij->i", a["p"][users], a["q"][items])
        ).astype(np.float32)

    def _score_users(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        a = self.arrays
        out = a["p"][users] @ a["q"][items].T + a["bi"][items][None, :]
        return (out + a["bu"][users][:, None] + a["mu"]).astype(np.float32)

    def predict_ratings(
        self, users: np.ndarray, histories: sp.csr_matrix, items: np.ndarray
    ) -> np.ndarray:
        """μ + b_u + b_i + ⟨p_u, q_i⟩ for users indexed as at fit time; μ + b_i for others."""
        self._check_fitted()
        a = self.arrays
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        known = (users >= 0) & (users < len(a["bu"]))
        out = (a["mu"] + a["bi"][items]).astype(np.float32)
        out[known] = self._predict(users[known], items[known])
        return out


def build_mf(keras: Any, n_users: int, n_items: int, cfg: MFExplicitConfig) -> Any:
    """Inputs ``user``, ``item``; output batch × 2: the centred rating and the squared norm
    of the example's parameters (for the per-example L2 penalty)."""
    user = keras.Input((), dtype="int32", name="user")
    item = keras.Input((), dtype="int32", name="item")
    init = keras.initializers.RandomNormal(stddev=0.05)
    d = int(cfg.factors)
    p = keras.layers.Embedding(n_users, d, embeddings_initializer=init, name="user_vectors")(user)
    q = keras.layers.Embedding(n_items, d, embeddings_initializer=init, name="item_vectors")(item)
    bu = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros", name="user_bias")(user)
    bi = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros", name="item_bias")(item)
    dot = keras.layers.Dot(axes=1, name="interaction")([p, q])
    rating = keras.layers.Add(name="rating")([dot, bu, bi])
    norms = keras.layers.Add(name="norms")(
        [
            keras.layers.Dot(axes=1)([p, p]),
            keras.layers.Dot(axes=1)([q, q]),
            keras.layers.Multiply()([bu, bu]),
            keras.layers.Multiply()([bi, bi]),
        ]
    )
    out = keras.layers.Concatenate(name="output")([rating, norms])
    return keras.Model({"user": user, "item": item}, out, name="mf_explicit")


class _Ratings:
    """Training ratings (centred), one example per rating."""

    def __init__(self, users: np.ndarray, items: np.ndarray, values: np.ndarray):
        self.users, self.items = users, items
        self.values = values.astype(np.float32)[:, None]

    def new_epoch(self, rng: np.random.Generator) -> int:
        return len(self.users)

    def batch(self, index: np.ndarray):
        return {"user": self.users[index], "item": self.items[index]}, self.values[index]
