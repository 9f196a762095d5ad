"""NeuMF (He et al. 2017): GMF + MLP over user and item embeddings, sampled negatives.

    logit(u, i) = b + w_gᵀ (p_u ⊙ q_i) + w_mᵀ MLP([p'_u, q'_i])

trained on the training positives and ``negatives`` uniformly drawn items per positive
(redrawn every epoch), with binary cross-entropy (``loss="bce"``, the paper's) or BPR
(``loss="bpr"``: −log σ(logit(u, i) − logit(u, j)) for each positive i and negative j).
Scoring runs in numpy on the saved weights.

Models with per-user embeddings only know the users seen at fit time. The contract passes
histories, not user ids, so a history is matched to the training user whose training
history is identical (``KnownUsers``); any other history cannot be scored (``can_score`` is
False and evaluation counts the user as 0). Explanations are the exact GMF/MLP score
breakdown; per-history-item attributions are not available (``exact=False``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models.base import (
    ProgressFn,
    Recommender,
    StopFn,
    TrainData,
    _as_csr,
    check_choice,
    check_number,
)
from recsys_engine.models.two_tower import PooledExplanation, load_keras, save_keras
from recsys_engine.training import KerasTrainConfig, fit_keras, keras_backend, ndcg_at_10

NEUMF_LOSSES = ("bce", "bpr")


class KnownUsers:
    """Maps a history (its set of items) to the training user with that training history."""

    def __init__(self, matrix: sp.csr_matrix):
        self.keys = np.array([_key(matrix, r) for r in range(matrix.shape[0])], dtype="S16")
        self._lookup = None

    @classmethod
    def from_keys(cls, keys: np.ndarray) -> KnownUsers:
        obj = cls.__new__(cls)
        obj.keys, obj._lookup = np.asarray(keys, dtype="S16"), None
        return obj

    def index(self, histories: sp.csr_matrix) -> np.ndarray:
        """Training-user index of each history row (-1 when unknown or empty)."""
        if self._lookup is None:
            self._lookup = {}
            for i, k in enumerate(self.keys):
                self._lookup.setdefault(bytes(k), i)  # identical histories: the first user
        h = sp.csr_matrix(histories)
        h.sort_indices()
        out = np.full(h.shape[0], -1, dtype=np.int64)
        for r in range(h.shape[0]):
            if h.indptr[r + 1] > h.indptr[r]:
                out[r] = self._lookup.get(_key(h, r), -1)
        return out


def _key(m: sp.csr_matrix, r: int) -> bytes:
    items = np.asarray(m.indices[m.indptr[r] : m.indptr[r + 1]], dtype=np.int64)
    items = items[np.asarray(m.data[m.indptr[r] : m.indptr[r + 1]]) != 0]
    return hashlib.blake2b(np.sort(items).tobytes(), digest_size=16).digest()


class UserEmbeddingModel(Recommender):
    """Shared parts of the per-user-embedding Keras models (NeuMF, explicit MF)."""

    def __init__(self, config=None):
        super().__init__(config)
        self._keras_model = None
        self.known: KnownUsers | None = None
        self.fit_result = None

    def can_score(self, histories: sp.csr_matrix) -> np.ndarray:
        self._check_fitted()
        return self.known.index(_as_csr(histories, self.n_items)) >= 0

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Scores of known users; rows of unknown histories are NaN (cannot score)."""
        self._check_fitted()
        users = self.known.index(_as_csr(histories, self.n_items))
        items = np.arange(self.n_items) if items is None else np.asarray(items)
        out = np.full((len(users), len(items)), np.nan, dtype=np.float32)
        ok = users >= 0
        if ok.any():
            out[ok] = self._score_users(users[ok], items)
        return out

    def _score_users(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _set_from_keras(self, model: Any) -> None:
        raise NotImplementedError

    def save(self, directory: str | Path) -> Path:
        path = super().save(directory)
        save_keras(self._keras_model, path)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> UserEmbeddingModel:
        model = super().load(directory)
        keras_model = load_keras(Path(directory), model.name)
        if keras_model is not None:
            model._keras_model = keras_model
            model._set_from_keras(keras_model)
        return model


@dataclass(frozen=True)
class NeuMFConfig(KerasTrainConfig):
    """NeuMF settings (plus the shared training settings).

    Attributes:
        factors: GMF embedding size.
        mlp_layers: hidden sizes of the MLP tower; its embeddings are half the first size.
        negatives: sampled negatives per training positive (redrawn each epoch).
        l2: L2 penalty on the looked-up embeddings (per example).
        loss: ``bce`` (pointwise) or ``bpr`` (pairwise, positive vs each negative).
    """

    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        **KerasTrainConfig.choices,
        "loss": NEUMF_LOSSES,
    }
    advanced: ClassVar[tuple[str, ...]] = (
        *KerasTrainConfig.advanced,
        "negatives",
        "l2",
        "loss",
    )

    # tuned on the ml-latest-small validation fold (BENCHMARKS.md, issue 4)
    epochs: int = 25
    batch_size: int = 4096
    learning_rate: float = 5e-3
    lr_decay: float = 0.8
    patience: int = 5
    smoothing: int = 2
    factors: int = 64
    mlp_layers: tuple[int, ...] = (128, 64, 32)
    negatives: int = 4
    l2: float = 1e-5
    loss: str = "bce"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("factors", self.factors, low=1, high=4096, integer=True)
        layers = self.mlp_layers
        if isinstance(layers, list):
            object.__setattr__(self, "mlp_layers", tuple(layers))
            layers = self.mlp_layers
        if not isinstance(layers, tuple) or not layers:
            raise ConfigError(f"mlp_layers must be a non-empty list of sizes (got {layers!r})")
        for size in layers:
            check_number("mlp_layers", size, low=1, high=4096, integer=True)
        if layers[0] < 2:
            raise ConfigError(f"mlp_layers must start with at least 2 (got {layers!r})")
        check_number("negatives", self.negatives, low=1, high=100, integer=True)
        check_number("l2", self.l2, low=0)
        check_choice("loss", self.loss, NEUMF_LOSSES)


class NeuMF(UserEmbeddingModel):
    """Neural matrix factorisation (GMF + MLP) for implicit feedback."""

    name = "neumf"
    config_class = NeuMFConfig
    family = "collaborative"

    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> NeuMF:
        cfg = self.config
        x = sp.csr_matrix(train.matrix)
        n_users, n_items = x.shape
        keras = keras_backend()
        pairwise = cfg.loss == "bpr"
        source = _NegativeSampler(x, int(cfg.negatives), pairwise=pairwise)

        def build():
            return build_neumf(keras, n_users, n_items, cfg, pairwise=pairwise)

        if pairwise:

            def loss(y, p):  # p = logit(u, positive) − logit(u, negative)
                return keras.ops.softplus(-p[:, 0])
        else:

            def loss(y, p):
                return keras.losses.binary_crossentropy(y, p, from_logits=True)

        validate = None
        if train.validation is not None and train.validation.nnz > 0:
            validation = sp.csr_matrix(train.validation)

            def validate(model):
                self._set_from_keras(model)
                return ndcg_at_10(
                    lambda u, _: self._score_users(u, np.arange(n_items)), x, validation
                )

        self.item_ids = np.asarray(train.item_ids, dtype=object)
        self.known = KnownUsers(x)
        model, self.fit_result = fit_keras(
            build,
            source,
            cfg,
            loss=loss,
            validate=validate,
            on_progress=on_progress,
            should_stop=should_stop,
            metric_name="val_ndcg@10",
        )
        self._keras_model = model
        self._set_from_keras(model)
        return self

    def _set_from_keras(self, model: Any) -> None:
        get = _getter({v.path: np.asarray(v) for v in model.weights})
        arrays = {
            "gmf_user": get("gmf_user"),
            "gmf_item": get("gmf_item"),
            "mlp_user": get("mlp_user"),
            "mlp_item": get("mlp_item"),
            "out_kernel": get("output", "kernel"),
            "out_bias": get("output", "bias"),
        }
        for j in range(len(self.config.mlp_layers)):
            arrays[f"mlp{j}_kernel"] = get(f"mlp_{j}", "kernel")
            arrays[f"mlp{j}_bias"] = get(f"mlp_{j}", "bias")
        self._set_arrays({**arrays, "user_keys": self.known.keys})

    def _parts(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """GMF and MLP parts of the logit (without the output bias), users × items."""
        a = self.arrays
        f = self.config.factors
        w_out = a["out_kernel"][:, 0]
        gmf = (a["gmf_user"][users] * w_out[:f]) @ a["gmf_item"][items].T
        mlp = np.empty((len(users), len(items)), dtype=np.float32)
        k0 = a["mlp0_kernel"]
        e = a["mlp_user"].shape[1]
        left = a["mlp_user"][users] @ k0[:e]
        right = a["mlp_item"][items] @ k0[e:] + a["mlp0_bias"]
        chunk = max(1, 2_000_000 // max(1, len(items) * k0.shape[1]))
        for s in range(0, len(users), chunk):
            h = np.maximum(left[s : s + chunk, None, :] + right[None, :, :], 0.0)
            for j in range(1, len(self.config.mlp_layers)):
                h = np.maximum(h @ a[f"mlp{j}_kernel"] + a[f"mlp{j}_bias"], 0.0)
            mlp[s : s + chunk] = h @ w_out[f:]
        return gmf.astype(np.float32), mlp

    def _score_users(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        gmf, mlp = self._parts(users, items)
        return gmf + mlp + np.float32(self.arrays["out_bias"][0])

    def explain(self, history: sp.csr_matrix, item: int) -> PooledExplanation:
        """Score breakdown into bias, GMF and MLP parts (exact); no per-history-item
        attribution for a per-user-embedding model, so ``exact`` is False."""
        self._check_fitted()
        h = _as_csr(history, self.n_items)[:1]
        user = self.known.index(h)[0]
        if user < 0:
            raise ConfigError("neumf can only explain users seen at fit time")
        gmf, mlp = self._parts(np.array([user]), np.array([int(item)]))
        base = float(self.arrays["out_bias"][0])
        parts = {"base": base, "gmf": float(gmf[0, 0]), "mlp": float(mlp[0, 0])}
        return PooledExplanation(
            item=int(item),
            score=base + parts["gmf"] + parts["mlp"],
            base=base + parts["gmf"] + parts["mlp"],
            history_items=h.indices.copy(),
            contributions=np.zeros(len(h.indices)),
            exact=False,
            parts=parts,
        )

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**self.arrays, "user_keys": self.known.keys}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = {k: np.asarray(v) for k, v in arrays.items() if k != "user_keys"}
        self.known = KnownUsers.from_keys(arrays["user_keys"])


def build_neumf(
    keras: Any, n_users: int, n_items: int, cfg: NeuMFConfig, pairwise: bool = False
) -> Any:
    """The NeuMF functional model: inputs ``user``, ``item``; output the logit (batch × 1).

    ``pairwise``: a third input ``negative`` goes through the same layers and the output is
    logit(user, item) − logit(user, negative).
    """
    user = keras.Input((), dtype="int32", name="user")
    item = keras.Input((), dtype="int32", name="item")
    reg = keras.regularizers.L2(cfg.l2) if cfg.l2 > 0 else None
    init = keras.initializers.RandomNormal(stddev=0.01)

    def emb(n, d, name):
        return keras.layers.Embedding(
            n, d, embeddings_initializer=init, activity_regularizer=reg, name=name
        )

    f, e = int(cfg.factors), max(1, int(cfg.mlp_layers[0]) // 2)
    gmf_user, gmf_item = emb(n_users, f, "gmf_user"), emb(n_items, f, "gmf_item")
    mlp_user, mlp_item = emb(n_users, e, "mlp_user"), emb(n_items, e, "mlp_item")
    dense = [
        keras.layers.Dense(int(size), activation="relu", name=f"mlp_{j}")
        for j, size in enumerate(cfg.mlp_layers)
    ]
    output = keras.layers.Dense(1, name="output")

    def logit_of(it):
        gmf = keras.layers.Multiply()([gmf_user(user), gmf_item(it)])
        h = keras.layers.Concatenate()([mlp_user(user), mlp_item(it)])
        for layer in dense:
            h = layer(h)
        return output(keras.layers.Concatenate()([gmf, h]))

    if not pairwise:
        return keras.Model({"user": user, "item": item}, logit_of(item), name="neumf")
    negative = keras.Input((), dtype="int32", name="negative")
    diff = keras.layers.Subtract(name="pairwise")([logit_of(item), logit_of(negative)])
    return keras.Model({"user": user, "item": item, "negative": negative}, diff, name="neumf")


def _getter(weights: dict[str, np.ndarray]):
    def get(layer: str, kind: str = "embeddings") -> np.ndarray:
        for path, value in weights.items():
            parts = path.split("/")
            if layer in parts and parts[-1] == kind:
                return value.astype(np.float32)
        raise KeyError(f"weight {layer}/{kind} not found")

    return get


class _NegativeSampler:
    """Training positives plus ``negatives`` uniform random items per positive."""

    def __init__(self, x: sp.csr_matrix, negatives: int, pairwise: bool = False):
        coo = x.tocoo()
        self.users = coo.row.astype(np.int32)
        self.items = coo.col.astype(np.int32)
        self.n_items, self.negatives, self.pairwise = x.shape[1], negatives, pairwise
        self.u = self.i = self.y = self.j = None

    def new_epoch(self, rng: np.random.Generator) -> int:
        k = self.negatives
        neg = rng.integers(0, self.n_items, len(self.users) * k).astype(np.int32)
        if self.pairwise:  # (user, positive, negative) triples
            self.u = np.repeat(self.users, k)
            self.i = np.repeat(self.items, k)
            self.j = neg
            self.y = np.ones((len(self.u), 1), dtype=np.float32)
            return len(self.u)
        self.u = np.concatenate([self.users, np.repeat(self.users, k)])
        self.i = np.concatenate([self.items, neg])
        self.y = np.concatenate([np.ones(len(self.users)), np.zeros(len(neg))]).astype(np.float32)[
            :, None
        ]
        return len(self.u)

    def batch(self, index: np.ndarray):
        x = {"user": self.u[index], "item": self.i[index]}
        if self.pairwise:
            x["negative"] = self.j[index]
        return x, self.y[index]
