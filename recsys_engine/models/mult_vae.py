"""Mult-VAE and Mult-DAE (Liang et al. 2018): autoencoders over the user's whole history.

The history x (binary, one column per catalogue item) is L2-normalised, corrupted by
dropout while training, and encoded by tanh layers into a latent code: a Gaussian
q(z|x) = N(μ(x), diag σ²(x)) for ``kind="vae"``, a deterministic tanh bottleneck for
``kind="dae"``. The decoder (mirrored tanh layers) gives logits f(z) over the catalogue,
and the loss per user is the multinomial negative log-likelihood

    −Σ_i x_i · log softmax(f(z))_i  (+ β · KL(q(z|x) ‖ N(0, I)) for the VAE),

with β annealed linearly by training steps up to ``beta_cap``. Two departures from the
paper help on small data (few users per catalogue item) and are settings: no hidden layer
(``hidden_dims=[]``: history → code → logits) and a popularity prior (``prior_bias``: the
output bias starts at the items' centred log training frequencies). Epochs are chosen on the
validation fold by ``fit_keras``'s early stopping. Scoring uses the latent mean and no
dropout, so it is deterministic; it runs in numpy on the saved weights (the first layer is
a sparse product, no history is densified to score it). Score = decoder logits.

Explanations are *verified by re-scoring*: each history item's contribution is the score
change when the history is re-scored without it (``rescoring.leave_one_out``); the
network is not additive, so the parts need not sum to the score.

Training densifies one batch of histories at a time (batch × n_items): the encoder reads
every catalogue column. ``fit`` refuses, before building anything, a catalogue whose
weights, optimiser state and one dense batch would not fit in half the machine's memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models.base import ProgressFn, Recommender, StopFn
from recsys_engine.models.data import TrainData, as_csr, top_k
from recsys_engine.models.ease import memory_limit
from recsys_engine.models.keras_backend import keras_backend
from recsys_engine.models.keras_files import KerasFiles
from recsys_engine.models.mult_vae_config import MultVAEConfig, wide_dim
from recsys_engine.models.rescoring import RescoredExplanation, leave_one_out
from recsys_engine.models.validation import ndcg_at_10

#: Rows scored at once are capped so one chunk's dense activations stay near this size.
SCORE_CHUNK_BYTES = 64 * 2**20


def training_bytes(cfg: MultVAEConfig, n_items: int) -> int:
    """Rough peak bytes of training: the two catalogue-wide layers (first encoder and last
    decoder layer, n_items × size each) with their gradient and Adam moments (4 copies, 5
    with the weight average), plus one step's dense batch × n_items arrays (input,
    target, normalised and dropped-out input, logits, log-softmax, their gradients ≈ 8).
    Without hidden layers the VAE's first layer is two such blocks (mean, log-variance)."""
    first = wide_dim(cfg) * (2 if not cfg.hidden_dims and cfg.kind == "vae" else 1)
    wide = int(n_items) * (first + wide_dim(cfg) + 1)
    copies = 5 if cfg.ema > 0 else 4
    return 4 * (copies * wide + 8 * int(cfg.batch_size) * int(n_items))


def check_memory(cfg: MultVAEConfig, n_items: int) -> None:
    """Refuse a catalogue too large to train on this machine.

    Raises:
        ConfigError: one sentence with the need, the limit and what to use instead.
    """
    need, limit = training_bytes(cfg, n_items), memory_limit()
    if need > limit:
        raise ConfigError(
            f"Mult-VAE on {int(n_items):,} items would need about {need / 2**30:,.1f} GiB "
            f"(its first and last layers are items × {wide_dim(cfg)} with their optimiser "
            f"state, and each step holds a dense {cfg.batch_size} × {int(n_items):,} batch), "
            f"above the {limit / 2**30:,.1f} GiB limit (half this machine's memory); use "
            "Two-tower (sampled softmax) or Item-kNN for a catalogue this large"
        )


class MultVAE(KerasFiles, Recommender):
    """Multinomial variational (or denoising) autoencoder over the history."""

    name = "mult_vae"
    config_class = MultVAEConfig
    family = "autoencoder"

    def __init__(self, config=None):
        super().__init__(config)
        self._keras_model = None
        self.arrays: dict[str, np.ndarray] = {}
        self.fit_result = None

    # -- training ------------------------------------------------------------------------
    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> MultVAE:
        cfg = self.config
        x = binary(train.matrix)
        n_items = x.shape[1]
        check_memory(cfg, n_items)
        keras = keras_backend()
        from recsys_engine.models.mult_vae_layers import MultAutoencoder, multinomial_loss

        def build():
            history = keras.Input((n_items,), name="history")
            layer = MultAutoencoder(
                n_items,
                hidden_dims=cfg.hidden_dims,
                latent_dim=int(cfg.latent_dim),
                kind=cfg.kind,
                dropout=float(cfg.dropout),
                beta_cap=float(cfg.beta_cap),
                anneal_steps=int(cfg.anneal_steps),
                l2=float(cfg.l2),
                decoder_l2=float(cfg.decoder_l2),
                seed=int(cfg.seed),
                name="autoencoder",
            )
            model = keras.Model(history, layer(history), name=self.name)
            if cfg.prior_bias:
                layer.output_layer.bias.assign(log_popularity(x))
            return model

        validate = None
        if train.validation is not None and train.validation.nnz > 0:
            validation = sp.csr_matrix(train.validation)

            def validate(model):
                self._set_from_keras(model)
                return ndcg_at_10(lambda _, h: self._score_binary(h), x, validation)

        self.item_ids = np.asarray(train.item_ids, dtype=object)
        self._fit_and_keep(
            build,
            DenseRows(x),
            cfg,
            loss=multinomial_loss,
            validate=validate,
            on_progress=on_progress,
            should_stop=should_stop,
            metric_name="val_ndcg@10",
        )
        return self

    def _set_from_keras(self, model: Any) -> None:
        layer = model.get_layer("autoencoder")
        arrays: dict[str, np.ndarray] = {}

        def put(prefix: str, dense: Any) -> None:
            arrays[f"{prefix}_kernel"] = np.asarray(dense.kernel, dtype=np.float32)
            arrays[f"{prefix}_bias"] = np.asarray(dense.bias, dtype=np.float32)

        for j, dense in enumerate(layer.encoder):
            put(f"enc{j}", dense)
        put("mean", layer.mean)
        for j, dense in enumerate(layer.decoder):
            put(f"dec{j}", dense)
        put("out", layer.output_layer)
        self._set_arrays(arrays)

    # -- scoring -------------------------------------------------------------------------
    def _latent(self, h: sp.csr_matrix) -> np.ndarray:
        """Latent mean of binary histories (no dropout): the deterministic encoder. The
        first product reads the sparse history (whichever layer comes first)."""
        w = self.arrays
        norms = np.sqrt(np.asarray(h.multiply(h).sum(axis=1)).ravel())
        z = sp.diags(1.0 / np.maximum(norms, 1e-12).astype(np.float32)) @ h
        for j in range(len(self.config.hidden_dims)):
            z = np.tanh(np.asarray(z @ w[f"enc{j}_kernel"]) + w[f"enc{j}_bias"])
        z = np.asarray(z @ w["mean_kernel"]) + w["mean_bias"]
        return np.tanh(z) if self.config.kind == "dae" else z

    def _decode(self, z: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        w = self.arrays
        for j in range(len(self.config.hidden_dims)):
            z = np.tanh(z @ w[f"dec{j}_kernel"] + w[f"dec{j}_bias"])
        kernel, bias = w["out_kernel"], w["out_bias"]
        if items is not None:
            kernel, bias = kernel[:, items], bias[items]
        return (z @ kernel + bias).astype(np.float32)

    def _score_binary(self, h: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        width = self.n_items if items is None else len(items)
        out = np.empty((h.shape[0], width), dtype=np.float32)
        chunk = max(1, SCORE_CHUNK_BYTES // (8 * max(width, self.n_items // 8, 1)))
        for s in range(0, h.shape[0], chunk):
            out[s : s + chunk] = self._decode(self._latent(h[s : s + chunk]), items)
        return out

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Decoder logits for the full history (latent mean, no dropout)."""
        self._check_fitted()
        h = binary(as_csr(histories, self.n_items))
        idx = None if items is None else np.asarray(items, dtype=np.int64)
        return self._score_binary(h, idx)

    # -- explanations --------------------------------------------------------------------
    def explain(self, history: sp.csr_matrix, item: int) -> RescoredExplanation:
        """Each history item's contribution = score − score of the history without it
        (re-scored); ``base`` is the score of an empty history."""
        self._check_fitted()
        item = int(item)
        if not 0 <= item < self.n_items:
            raise ConfigError(f"item index must be in [0, {self.n_items}) (got {item!r})")
        return leave_one_out(self, as_csr(history, self.n_items)[:1], item)

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Nearest items by cosine of the decoder's item vectors (the output kernel's
        columns: how the latent code raises each item)."""
        self._check_fitted()
        if not 0 <= int(item) < self.n_items:
            raise ConfigError(f"item index must be in [0, {self.n_items}) (got {item!r})")
        v = self.arrays["out_kernel"].T.astype(np.float64)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        sims = (v @ v[int(item)]).astype(np.float32)
        sims[int(item)] = -np.inf
        items, scores = top_k(sims[None, :], k)
        return items[0], scores[0]

    # -- persistence ---------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return dict(self.arrays)

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}


def log_popularity(x: sp.csr_matrix) -> np.ndarray:
    """Centred log training frequency of each item, log(count + 1) − mean: the output bias
    under which the decoder's softmax starts near the popularity distribution (+1 keeps
    items without training interactions finite, at the bottom)."""
    counts = np.asarray(x.sum(axis=0), dtype=np.float64).ravel()
    logs = np.log(counts + 1.0)
    return (logs - logs.mean()).astype(np.float32)


def binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Histories as float32 0/1 CSR (positive weights → 1, others dropped)."""
    h = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    h.data = (h.data > 0).astype(np.float32)
    h.eliminate_zeros()
    h.sort_indices()
    return h


class DenseRows:
    """Training examples: every user with a history; each batch densified on its own
    (x = y = the batch's binary rows, batch × n_items), never the whole matrix."""

    def __init__(self, x: sp.csr_matrix):
        self.x = x
        self.users = np.flatnonzero(np.diff(x.indptr) > 0)

    def new_epoch(self, rng: np.random.Generator) -> int:
        return len(self.users)

    def batch(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = self.x[self.users[index]].toarray()
        return rows, rows
