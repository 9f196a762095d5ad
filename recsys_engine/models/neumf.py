"""NeuMF (He et al. 2017): GMF + MLP over user and item embeddings.

    logit(u, i) = b + w_gᵀ (p_u ⊙ q_i) + w_mᵀ MLP([p'_u, q'_i])

Three ways to train it:

- ``loss="softmax"`` (default): every catalogue item not in a user's training history is a
  negative. Each example is a user; the loss is the cross-entropy between the softmax of the
  user's logits over the whole catalogue and the user's training history spread evenly
  (multinomial likelihood, −(1/|I_u|) Σ_{i∈I_u} log softmax(logit(u, ·))_i). The MLP is
  evaluated for every (user, item) pair of the batch, so this mode wants a small MLP; it
  ranks much better than the sampled losses on MovieLens (BENCHMARKS.md, issue 4).
- ``loss="bce"`` (the paper's): the training positives and ``negatives`` uniformly drawn
  items per positive (redrawn every epoch), binary cross-entropy.
- ``loss="bpr"``: −log σ(logit(u, i) − logit(u, j)) for each positive i and sampled j.

Scoring runs in numpy on the saved weights.

Models with per-user embeddings only know the users seen at fit time. The contract passes
histories, not user ids, so a history is matched to the training user whose training
history is identical (``KnownUsers``); any other history cannot be scored (``can_score`` is
False and evaluation counts the user as 0). Explanations are the exact GMF/MLP score
breakdown; per-history-item attributions are not available (``exact=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_engine.config import check_choice, check_number
from recsys_engine.errors import ConfigError
from recsys_engine.models.base import ProgressFn, StopFn
from recsys_engine.models.data import TrainData, as_csr
from recsys_engine.models.keras_backend import keras_backend
from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.models.pooled import PooledExplanation
from recsys_engine.models.search_space import Param, Range
from recsys_engine.models.user_embedding import KnownUsers, UserEmbeddingModel, weight_getter
from recsys_engine.models.validation import ndcg_at_10

NEUMF_LOSSES = ("softmax", "bce", "bpr")
#: ``batch_size=0`` means: this many users per step (softmax) or pairs per step (bce, bpr).
AUTO_BATCH_USERS, AUTO_BATCH_PAIRS = 32, 4096
#: The softmax loss is refused when one step would hold more than this (see softmax_bytes).
MAX_SOFTMAX_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class NeuMFConfig(KerasTrainConfig):
    """NeuMF settings (plus the shared training settings).

    Attributes:
        batch_size: examples per step; 0 = automatic: 32 users for ``softmax`` (each scored
            against the whole catalogue), 4096 (user, item) pairs for ``bce`` and ``bpr``.
        factors: GMF embedding size.
        mlp_layers: hidden sizes of the MLP tower; its embeddings are half the first size.
        negatives: sampled negatives per training positive (``bce`` and ``bpr`` only).
        l2: L2 penalty on the embeddings, per example (mean over the step's examples).
            ``softmax`` adds the item tables' penalty divided by the number of users. The
            default is tuned for ``softmax``; ``bce`` and ``bpr`` were tuned at 1e-5.
        loss: ``softmax`` (every item not in the history is a negative), ``bce``
            (pointwise, sampled negatives) or ``bpr`` (pairwise, sampled negatives).
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
    search_space: ClassVar[dict[str, Param]] = {
        **KerasTrainConfig.search_space,
        "factors": Range(8, 256, log=True, integer=True),
        "l2": Range(1e-5, 1e-1, log=True),
    }

    # tuned on the ml-latest-small validation fold (BENCHMARKS.md, issue 4)
    # 30: where early stopping lands on ml-latest-small; without a validation fold every
    # epoch runs, and past ~40 the softmax model overfits (BENCHMARKS.md)
    epochs: int = 30
    batch_size: int = 0
    learning_rate: float = 2e-3
    patience: int = 10
    smoothing: int = 3
    factors: int = 64
    mlp_layers: tuple[int, ...] = (16, 8)
    negatives: int = 4
    l2: float = 0.032  # = 1e-3 per user summed over the 32-user batch it was tuned with
    loss: str = "softmax"

    min_batch_size: ClassVar[int] = 0
    #: NeuMF only had the sampled BCE loss before ``loss`` existed
    stored_defaults: ClassVar[dict[str, Any]] = {**KerasTrainConfig.stored_defaults, "loss": "bce"}

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

    def effective_batch_size(self, n_users: int = 0) -> int:
        """``batch_size``, or the loss's automatic size when it is 0."""
        if self.batch_size:
            return int(self.batch_size)
        return AUTO_BATCH_USERS if self.loss == "softmax" else AUTO_BATCH_PAIRS


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
        n_items = x.shape[1]
        source, build, loss = _training_setup(keras_backend(), x, cfg)

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
        self._fit_and_keep(
            build,
            source,
            cfg,
            loss=loss,
            validate=validate,
            on_progress=on_progress,
            should_stop=should_stop,
            metric_name="val_ndcg@10",
        )
        return self

    def _set_from_keras(self, model: Any) -> None:
        get = weight_getter({v.path: np.asarray(v) for v in model.weights})
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
        h = as_csr(history, self.n_items)[:1]
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


def _training_setup(keras: Any, x: sp.csr_matrix, cfg: NeuMFConfig) -> tuple[Any, Any, Any]:
    """The examples, the model builder and the per-example loss of ``cfg.loss``.

    Raises:
        ConfigError: a softmax step would not fit in memory (``MAX_SOFTMAX_BYTES``).
    """
    n_users, n_items = x.shape
    if cfg.loss == "softmax":
        need = softmax_bytes(cfg, n_items)
        if need > MAX_SOFTMAX_BYTES:
            raise ConfigError(
                f"NeuMF's softmax loss would hold about {need / 2**30:.1f} GiB per step for "
                f"{n_items:,} items (batch_size × items × MLP sizes); lower batch_size or "
                "mlp_layers, or use loss 'bce'"
            )

        def softmax(y, p):
            return keras.losses.categorical_crossentropy(y, p, from_logits=True)

        return (
            _UserSource(x),
            lambda: build_neumf_catalogue(keras, n_users, n_items, cfg),
            softmax,
        )
    pairwise = cfg.loss == "bpr"

    def bpr(y, p):  # p = logit(u, positive) − logit(u, negative)
        return keras.ops.softplus(-p[:, 0])

    def bce(y, p):
        return keras.losses.binary_crossentropy(y, p, from_logits=True)

    return (
        _NegativeSampler(x, int(cfg.negatives), pairwise=pairwise),
        lambda: build_neumf(keras, n_users, n_items, cfg, pairwise=pairwise),
        bpr if pairwise else bce,
    )


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


def softmax_bytes(cfg: NeuMFConfig, n_items: int) -> int:
    """Rough size of one softmax step: every (user, item) pair of the batch keeps its MLP
    activations and their gradients (≈ 3 floats per hidden unit) plus a few logits."""
    pairs = cfg.effective_batch_size() * int(n_items)
    return 4 * pairs * (3 * sum(int(s) for s in cfg.mlp_layers) + 4)


def build_neumf_catalogue(keras: Any, n_users: int, n_items: int, cfg: NeuMFConfig) -> Any:
    """NeuMF scoring every catalogue item: input ``user``; output logits (batch × n_items)."""
    from recsys_engine.models.neumf_layers import NeuMFCatalogue

    user = keras.Input((), dtype="int32", name="user")
    layer = NeuMFCatalogue(
        n_users, n_items, int(cfg.factors), cfg.mlp_layers, float(cfg.l2), name="neumf_scores"
    )
    return keras.Model({"user": user}, layer({"user": user}), name="neumf")


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


class _UserSource:
    """One example per training user: the user's index and, as the target, the training
    history as a distribution over the catalogue (multinomial likelihood)."""

    def __init__(self, x: sp.csr_matrix):
        binary = sp.csr_matrix(x, dtype=np.float32, copy=True)
        binary.data[:] = 1.0
        self.users = np.flatnonzero(np.diff(binary.indptr) > 0).astype(np.int32)
        self.x = binary

    def new_epoch(self, rng: np.random.Generator) -> int:
        return len(self.users)

    def batch(self, index: np.ndarray):
        users = self.users[index]
        y = self.x[users].toarray()
        y /= np.maximum(y.sum(axis=1, keepdims=True), 1e-12)
        return {"user": users}, y
