"""The history-pooled two-tower base (DESIGN §4) of ``two_tower``, ``content`` and ``hybrid``.

The item tower gives every catalogue item an input vector, an output vector and a bias (ID
embeddings in ``two_tower``; ``content`` and ``hybrid`` add or swap in a projection of content
features). The user tower is the weighted mean of the input vectors of the user's history —
no per-user embedding, so a new user is scored from a handful of items without retraining:

    score(h, i) = b_i + Σ_j w̃_j ⟨v_in_j, v_out_i⟩,   w̃ = w / Σ w  (or w / √Σw²)

which is also an exact explanation (contribution of history item j = w̃_j ⟨v_in_j, v_out_i⟩).

Training, per user and epoch: a random ``input_fraction`` of the history is pooled as input,
the rest are the targets, which never appear in their own input. Loss ``softmax``: full
softmax over the catalogue with the input items masked (cheap below ~50k items);
``sampled_softmax``: one target per user, the batch's other targets as negatives, log-Q
corrected; ``bpr``: one target against one uniform negative. ``auto`` picks ``softmax``
up to ``max_softmax_items`` items and ``max_softmax_cells`` training examples × items per
epoch (``pooled_examples.choose_loss``). The sampled losses read only the ID rows a batch
names (its history items, targets, negatives) and train with ``LazyAdam``, which updates
those rows only (moments, weights, L2 penalty, weight average): a step then costs the
batch, not the catalogue (issue 14). ``targets="all"`` trains Mult-DAE style instead (the
whole history is the target of its dropout-corrupted self, nothing masked). Inference
always pools the whole history, and adds a fixed popularity prior α · log q_i to the item
bias (``popularity_prior``; tuned on validation, it makes up for the training split seeing
only half-histories). Scoring and explanations run in numpy on the item vectors, which are
saved next to the ``.keras`` file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models.base import Explanation, ProgressFn, Recommender, StopFn
from recsys_engine.models.context_scoring import ContextScoring
from recsys_engine.models.data import TrainData, as_csr
from recsys_engine.models.keras_backend import keras_backend
from recsys_engine.models.keras_files import KerasFiles
from recsys_engine.models.pooled_config import TwoTowerConfig
from recsys_engine.models.pooled_context import ContextEventSource
from recsys_engine.models.pooled_examples import (
    HalfSplitSource,
    choose_loss,
    penalty_scale,
    row_read_chances,
)
from recsys_engine.models.score_block import ScoreBlock
from recsys_engine.models.validation import REUSED_SCORE_BLOCK, ndcg_at_10

if TYPE_CHECKING:  # table_rows imports TensorFlow
    from recsys_engine.models.table_rows import RowReader


@dataclass(frozen=True)
class PooledExplanation(Explanation):
    """An exact explanation plus the score breakdown.

    ``parts`` maps ``base`` (the item bias), ``collaborative`` and/or ``content`` to their
    share of the score; they sum to ``score``.
    """

    parts: dict[str, float] = field(default_factory=dict)


class PooledHistoryModel(ContextScoring, KerasFiles, Recommender):
    """Base of ``two_tower``, ``content`` and ``hybrid`` (history-pooled user tower)."""

    name = "two_tower"
    config_class = TwoTowerConfig
    family = "collaborative"

    def __init__(self, config=None):
        super().__init__(config)
        self._keras_model = None
        self.v_in = self.v_out = self.bias = None
        self.id_dim = 0
        self.fit_result = None
        #: while fitting with validation, the catalogue arrays each rebuild writes into
        self._reused_arrays: dict[str, np.ndarray] | None = None

    # -- training ------------------------------------------------------------------------
    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> PooledHistoryModel:
        cfg = self.config
        x = self._weights(sp.csr_matrix(train.matrix, dtype=np.float32))
        n_items = x.shape[1]
        features = self._features(train)
        context = self._training_context(train)  # None unless use_context
        # examples per epoch: users with a target (one per event with context)
        n_users = int((np.diff(x.indptr) >= 2).sum())
        n_examples = x.nnz if context is not None else n_users
        # batch_size 0 (automatic) resolved for this log; the stored config keeps the 0
        fit_cfg = dataclasses.replace(cfg, batch_size=cfg.effective_batch_size(n_users))
        loss_name = choose_loss(
            cfg.loss, n_examples, n_items, cfg.max_softmax_items, cfg.max_softmax_cells
        )
        popularity = np.bincount(x.indices, minlength=n_items).astype(np.float64)
        id_mask = (popularity > 0).astype(np.float32)
        log_q = np.log((popularity + 1.0) / (popularity.sum() + n_items))
        if context is None:
            source = HalfSplitSource(x, loss_name, float(cfg.input_fraction), cfg.targets)
        else:
            source = ContextEventSource(x, loss_name, float(cfg.input_fraction), context)
        keras = keras_backend()
        from recsys_engine.models.keras_layers import PooledTowers
        from recsys_engine.models.sampled_softmax import in_batch_softmax_loss

        n_features = 0 if features is None else features.shape[1]
        nnz = 0 if features is None else features.nnz

        def build():
            read_scale = None  # from the first epoch's draw, made before build (fit_keras)
            if loss_name != "softmax" and float(cfg.l2) > 0:
                chances = row_read_chances(source, n_items, int(fit_cfg.batch_size))
                read_scale = np.stack([penalty_scale(p) for p in chances], axis=1)
            inputs = {  # the history as an embedding bag (keras_layers)
                "history_items": keras.Input((None,), dtype="int32", name="history_items"),
                "history_weights": keras.Input((None,), name="history_weights"),
            }
            if loss_name != "softmax":
                inputs["target"] = keras.Input((), dtype="int32", name="target")
            if loss_name == "bpr":
                inputs["negative"] = keras.Input((), dtype="int32", name="negative")
            if context is not None:
                n_fields = len(context.vocab.fields)
                inputs["context"] = keras.Input((n_fields,), dtype="int32", name="context")
            id_dim, content_dim, id_dropout = cfg.tower_sizes()
            if features is None:
                content_dim = 0
            layer = PooledTowers(
                n_items,
                id_dim=id_dim,
                content_dim=content_dim,
                n_features=n_features,
                content_nnz=nnz,
                mode=loss_name,
                id_dropout=id_dropout,
                dropout=float(cfg.dropout),
                l2=float(cfg.l2),
                seed=int(cfg.seed),
                pooling=cfg.pooling,
                mask_inputs=cfg.targets == "rest",
                item_bias=bool(cfg.item_bias),
                context_sizes=() if context is None else context.vocab.sizes,
                read_scaled_l2=True,
                name="towers",
            )
            model = keras.Model(inputs, layer(inputs), name=self.name)
            layer.set_catalogue(features, id_mask, log_q, read_scale)
            return model

        # Items nobody interacted with in training may be new arrivals, not on offer then.
        # A config with ``new_item_negatives`` False (the hybrid's default) leaves them out
        # of the full softmax's denominator (a −10⁹ logit offset); the ID-only two-tower
        # has no parameter for them, and sampled softmax never draws them (in-batch).
        offset = None
        unknown = popularity == 0
        if features is not None and unknown.any() and not self._new_item_negatives():
            offset = keras.ops.convert_to_tensor(np.where(unknown, -1e9, 0.0).astype(np.float32))

        def softmax_loss(y, p):
            if offset is not None:
                p = p + offset[None, :]
            return keras.losses.categorical_crossentropy(y, p, from_logits=True)

        losses = {
            "softmax": softmax_loss,
            "sampled_softmax": in_batch_softmax_loss,
            "bpr": lambda y, p: keras.ops.softplus(-p),  # -log σ(s_pos - s_neg)
        }
        validate = None
        if train.validation is not None and train.validation.nnz > 0:
            validation = sp.csr_matrix(train.validation)
            codes = None if context is None else self._validation_codes(train)
            block = ScoreBlock()  # one block of scores for every validation of the fit

            def validate(model, read):
                self._set_from_keras(model, read)
                try:
                    with self.reusing_score_block(block):
                        return ndcg_at_10(
                            lambda users, h: self._score_raw(
                                h, context=None if codes is None else codes[users]
                            ),
                            x,
                            validation,
                            max_block=REUSED_SCORE_BLOCK,
                        )
                finally:  # unset between validations; the next rebuild writes over them
                    self.v_in = self.v_out = self.bias = None

        self.item_ids = np.asarray(train.item_ids, dtype=object)
        # the catalogue arrays of one validation are written over by the next and by the
        # final ones (``catalogue_arrays(into=...)``): no fresh catalogue-sized arrays at
        # every epoch (they are held between validations: 0.76 GB at 186k items × 512)
        self._reused_arrays = {} if validate is not None else None
        try:
            self._fit_and_keep(
                build,
                source,
                fit_cfg,
                loss=losses[loss_name],
                validate=validate,
                on_progress=on_progress,
                should_stop=should_stop,
                metric_name="val_ndcg@10",
                # the sampled losses read the ID tables by row: update only the rows read
                sparse_updates=loss_name != "softmax",
                any_width=True,  # each batch's histories are padded to its longest
                validate_reads=True,  # the catalogue is read from the weight average
            )
        finally:
            self._reused_arrays = None
        return self

    def _features(self, train: TrainData) -> sp.csr_matrix | None:
        """Item content features (None for the ID-only two-tower)."""
        return None

    def _new_item_negatives(self) -> bool:
        """Whether items without training interactions are softmax negatives (yes unless
        the config says otherwise: the hybrid's ``new_item_negatives``)."""
        return True

    def _weights(self, h: sp.csr_matrix) -> sp.csr_matrix:
        h = sp.csr_matrix(h, dtype=np.float32)
        data = np.maximum(h.data, np.float32(0.0))  # a new array: ``h``'s stays as it was
        if self.config.weighting == "binary":
            data[data > 0] = 1.0
        elif self.config.weighting == "log":
            data = np.where(data > 0, 1.0 + np.log1p(data), 0.0).astype(np.float32)
        out = sp.csr_matrix((data, h.indices.copy(), h.indptr.copy()), shape=h.shape)
        out.eliminate_zeros()
        return out

    def _set_from_keras(self, model, read: RowReader | None = None) -> None:
        """The scoring arrays from the Keras model's towers, their weights read through
        ``read`` (``keras_layers.catalogue_arrays``; validation reads the average)."""
        from recsys_engine.models.keras_layers import catalogue_arrays

        reused = getattr(self, "_reused_arrays", None)
        arrays = catalogue_arrays(model.get_layer("towers"), into=reused, read=read)
        if reused is not None:  # while fitting: written over by the next rebuild
            reused.update({k: arrays[k] for k in ("v_in", "v_out", "bias")})
        warm = arrays.pop("warm")
        alpha = float(self.config.popularity_prior)
        if alpha:
            # inference-only popularity prior: a fixed per-item offset α·log q_i (it stays
            # part of the item's base score, so explanations remain exact)
            arrays["bias"] = arrays["bias"] + alpha * self._prior_log_q(arrays["log_q"], warm)
        self._set_arrays(arrays)

    def _prior_log_q(self, log_q: np.ndarray, warm: np.ndarray) -> np.ndarray:
        """The log q_i the popularity prior uses. With ``new_item_prior="median"`` an item
        nobody interacted with in training (a new arrival) counts as a typical item — the
        median log q of the others — instead of the least popular one, so the prior does
        not bury it under every old item; its score then comes from its content."""
        if getattr(self.config, "new_item_prior", "observed") != "median":
            return log_q
        if len(warm) != len(log_q) or warm.all() or not warm.any():
            return log_q
        return np.where(warm, log_q, np.float32(np.median(log_q[warm]))).astype(np.float32)

    # -- scoring -------------------------------------------------------------------------
    def _norms(self, h: sp.csr_matrix) -> np.ndarray:
        """Per-row pooling denominators (Σw or √Σw²)."""
        if self.config.pooling == "mean":
            return np.asarray(h.sum(axis=1)).ravel()
        return np.sqrt(np.asarray(h.multiply(h).sum(axis=1)).ravel())

    def _user_vectors(self, h: sp.csr_matrix) -> np.ndarray:
        total = self._norms(h)
        pooled = np.asarray(h @ self.v_in, dtype=np.float32)
        return pooled / np.maximum(total, 1e-12).astype(np.float32)[:, None]

    def _score_raw(
        self,
        h: sp.csr_matrix,
        items: np.ndarray | None = None,
        context: np.ndarray | None = None,
    ) -> np.ndarray:
        u = self._user_vectors(h)
        if context is not None:
            u = u + self.context_vectors(context)
        v_out, bias = self.v_out, self.bias
        if items is not None:
            items = np.asarray(items)
            v_out, bias = v_out[items], bias[items]
        if self._score_block is None:
            scores = u @ v_out.T
        else:  # the block the previous batch used (``reusing_score_block``)
            scores = np.matmul(u, v_out.T, out=self._score_block.take(len(u), len(v_out)))
        # in place: a second batch × catalogue block costs its memory and page faults
        # (1.7 s for a 1024-user block at 186k items, 0.1 s in place; BENCHMARKS.md)
        scores += bias
        return scores

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        h = self._weights(as_csr(histories, self.n_items))
        return np.asarray(self._score_raw(h, items), dtype=np.float32)

    def score_in_context(
        self,
        histories: sp.csr_matrix,
        recency: sp.csr_matrix | None,
        context: np.ndarray | None,
        items: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores with the context codes of each row's event added to the user tower
        (the neutral context — all codes 0, or None — gives ``score``)."""
        if context is None or not self.uses_context:
            return self.score_in_order(histories, recency, items)
        self._check_fitted()
        h = self._weights(as_csr(histories, self.n_items))
        return np.asarray(self._score_raw(h, items, context), dtype=np.float32)

    def explain(self, history: sp.csr_matrix, item: int) -> PooledExplanation:
        """Exact: contribution of history item j = w̃_j ⟨v_in_j, v_out_i⟩; parts split the
        score into the item bias and the collaborative (ID) and content dot products."""
        self._check_fitted()
        h = self._weights(as_csr(history, self.n_items)[:1])
        item = int(item)
        if not 0 <= item < self.n_items:
            raise ConfigError(f"item index must be in [0, {self.n_items}) (got {item!r})")
        w = h.data.astype(np.float64) / max(float(self._norms(h)[0]), 1e-12)
        vin = self.v_in[h.indices].astype(np.float64)
        vout = self.v_out[item].astype(np.float64)
        d = self.id_dim
        collab = w * (vin[:, :d] @ vout[:d])
        content = w * (vin[:, d:] @ vout[d:])
        base = float(self.bias[item])
        parts = {"base": base}
        if d:
            parts["collaborative"] = float(collab.sum())
        if self.v_in.shape[1] > d:
            parts["content"] = float(content.sum())
        return PooledExplanation(
            item=item,
            score=float(self.score(h, np.array([item]))[0, 0]),
            base=base,
            history_items=h.indices.copy(),
            contributions=collab + content,
            exact=True,
            parts=parts,
        )

    # -- persistence ---------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "v_in": self.v_in,
            "v_out": self.v_out,
            "bias": self.bias,
            "id_dim": np.asarray(self.id_dim),
            **self._context_arrays(),
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.v_in = np.asarray(arrays["v_in"], dtype=np.float32)
        self.v_out = np.asarray(arrays["v_out"], dtype=np.float32)
        self.bias = np.asarray(arrays["bias"], dtype=np.float32)
        self.id_dim = int(arrays["id_dim"])
        self._set_context_arrays(arrays)
