"""Shared base of the deep sequence models ``sasrec`` and ``gru4rec`` (issue 18).

A user is the ordered run of their history items, the last ``max_len`` of them, left-padded
(``sequences``). The network (``sequence_layers.SequenceNetwork``) turns the run into one
vector per position, causally: position t sees positions ≤ t only. Training uses every
prefix: each position predicts the next item of the user's training run, with a full
softmax cross-entropy over the catalogue (small catalogues) or the in-batch sampled,
log-Q-corrected softmax above ``max_softmax_items``. Long runs are cut into windows of
``max_len + 1`` items from the end, so every training interaction is a target once. The
number of epochs is chosen on the validation fold by ``fit_keras``'s early stopping.

score(h, j) = ⟨last position's vector, item embedding of j⟩ (output embedding = input).

Context (``use_context``, issue 18): the predicting position's vector gets Σ_f E_f[c_f] of
the context codes of the event it predicts (``context_scoring``; E_f[0] = 0), so
score(h, c, j) = score(h, j) + ⟨Σ_f E_f[c_f], v_j⟩. Training gives each position its target
event's codes (``sequence_data.target_context``); evaluation and the Explain page score in
the test event's context (``score_in_context``); the neutral context is the blind score.
Because the context part does not depend on the history, the re-scored contribution of a
history item is the same in every context.

Content (``use_content``): an item's vector is its ID embedding plus a projection of its
content features (``sequence_layers``), so an item without training interactions is
scored from its content. Settings: ``sequence_config``.

Order: ``score_in_order`` orders a history by its recency ranks (evaluation, the Explain
page); a history without order (``score`` alone) is taken in item-index order — there is
no order to use. Sequence models refuse splits that do not keep time order (random,
cold-items) before training, as ``transitions`` does.

Explanations are *verified by re-scoring* (``rescoring.RescoredExplanation``): a history
item's contribution is the score minus the score of the same run without it (the rest keep
their order), ``base`` the score of the empty history; each number is a real model answer,
not an attention weight. The recency rank of each item is reported with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models.base import ProgressFn, Recommender, StopFn
from recsys_engine.models.content import content_matrix
from recsys_engine.models.context_scoring import ContextScoring
from recsys_engine.models.data import TrainData, as_csr
from recsys_engine.models.keras_backend import keras_backend
from recsys_engine.models.keras_files import KerasFiles
from recsys_engine.models.rescoring import RescoredExplanation
from recsys_engine.models.sequence_config import SequenceConfig
from recsys_engine.models.sequence_data import (
    WindowSource,
    run_context_codes,
    sequences,
    target_context,
    training_windows,
)
from recsys_engine.models.validation import ndcg_at_10

__all__ = ["SequenceConfig", "SequenceModel", "sequences", "training_windows"]


@dataclass(frozen=True)
class SequenceExplanation(RescoredExplanation):
    """A leave-one-out explanation (``rescoring``) plus each history item's recency rank
    (1 = most recent; 0 when the order is unknown)."""

    recency: np.ndarray = field(default_factory=lambda: np.zeros(0))


class SequenceModel(ContextScoring, KerasFiles, Recommender):
    """Base of ``sasrec`` and ``gru4rec``: a causal network over the ordered history."""

    family = "sequence"
    needs_order = True
    encoder: ClassVar[str] = "attention"

    def __init__(self, config=None):
        super().__init__(config)
        self._keras_model = None
        self._network = None
        self.fit_result = None

    def _heads(self) -> int:
        return 1

    # -- training ------------------------------------------------------------------------
    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> SequenceModel:
        """Train on every prefix of the ordered training runs.

        Raises:
            ConfigError: the order is unknown or the split does not keep it.
        """
        problem = train.order_problem()
        if problem is not None:
            raise ConfigError(f"model {self.name!r} learns from the order of events, but {problem}")
        cfg = self.config
        n_items, max_len = train.n_items, int(cfg.max_len)
        loss_name = cfg.loss
        if loss_name == "auto":
            loss_name = "softmax" if n_items <= cfg.max_softmax_items else "sampled_softmax"
        inputs, targets = training_windows(train.sequence_indptr, train.sequence_items, max_len)
        counts = np.bincount(targets[targets > 0] - 1, minlength=n_items).astype(np.float64)
        log_q = np.log((counts + 1.0) / (counts.sum() + n_items))
        context = self._training_context(train)  # None unless use_context
        window_context = None
        if context is not None:
            codes = run_context_codes(train, context)
            window_context = target_context(train.sequence_indptr, codes, max_len)
        source = WindowSource(inputs, targets, loss_name == "sampled_softmax", window_context)
        features = content_matrix(self, train, required=True) if cfg.use_content else None
        keras = keras_backend()
        from recsys_engine.models.sampled_softmax import in_batch_softmax_loss
        from recsys_engine.models.sequence_layers import SequenceNetwork, position_softmax_loss

        def build():
            x = {"sequence": keras.Input((max_len,), dtype="int32", name="sequence")}
            if loss_name == "sampled_softmax":
                x["target"] = keras.Input((max_len,), dtype="int32", name="target")
            if context is not None:
                n_fields = len(context.vocab.fields)
                x["context"] = keras.Input((max_len, n_fields), dtype="int32", name="context")
            layer = SequenceNetwork(
                n_items,
                dim=int(cfg.dim),
                max_len=max_len,
                encoder=self.encoder,
                blocks=int(cfg.blocks),
                heads=self._heads(),
                dropout=float(cfg.dropout),
                l2=float(cfg.l2),
                mode=loss_name,
                seed=int(cfg.seed),
                context_sizes=() if context is None else context.vocab.sizes,
                n_features=0 if features is None else features.shape[1],
                content_nnz=0 if features is None else features.nnz,
                output_norm=True,
                name="network",
            )
            model = keras.Model(x, layer(x), name=self.name)
            layer.set_log_q(log_q)
            if features is not None:
                # the ID part of items with training interactions (inputs or targets)
                warm = np.bincount(train.sequence_items, minlength=n_items) > 0
                layer.set_content(features, warm)
            return model

        validate = None
        if train.validation is not None and train.validation.nnz > 0:
            validation = sp.csr_matrix(train.validation)
            seqs = sequences(train.matrix, train.recency(), max_len)
            val_codes = None if context is None else self._validation_codes(train)

            def validate(model):
                self._set_from_keras(model)
                return ndcg_at_10(
                    lambda users, _: self._score_sequences(
                        seqs[users], codes=None if val_codes is None else val_codes[users]
                    ),
                    train.matrix,
                    validation,
                )

        self.item_ids = np.asarray(train.item_ids, dtype=object)
        loss = position_softmax_loss if loss_name == "softmax" else in_batch_softmax_loss
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
        from recsys_engine.models.context_layers import stacked_context_tables

        net = model.get_layer("network")
        self._network = net
        sizes = getattr(net, "context_sizes", [])
        if sizes:
            arrays = stacked_context_tables(net.context_tables, sizes, net.dim)
            self.ctx_table, self.ctx_sizes = arrays["ctx_table"], arrays["ctx_sizes"]

    # -- scoring -------------------------------------------------------------------------
    def _score_sequences(
        self,
        seqs: np.ndarray,
        items: np.ndarray | None = None,
        batch: int = 512,
        codes: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores of padded sequences (n × max_len): (last position's vector + the context
        vector of ``codes``, n × fields, when given) · item vectors."""
        import tensorflow as tf

        net = self._network
        v = np.asarray(net.outputs(), dtype=np.float32)
        if items is not None:
            v = v[np.asarray(items)]
        out = np.empty((len(seqs), len(v)), dtype=np.float32)
        for s in range(0, len(seqs), batch):
            last = np.asarray(net.last(tf.constant(seqs[s : s + batch])), dtype=np.float32)
            if codes is not None:
                last = last + self.context_vectors(codes[s : s + batch])
            out[s : s + batch] = last @ v.T
        return out

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Scores of histories without order (taken in item-index order)."""
        return self.score_in_order(histories, None, items)

    def score_in_order(
        self,
        histories: sp.csr_matrix,
        recency: sp.csr_matrix | None,
        items: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores of each history's run ordered by ``recency`` (see the module)."""
        self._check_fitted()
        h = as_csr(histories, self.n_items)
        r = None if recency is None else as_csr(recency, self.n_items)
        return self._score_sequences(sequences(h, r, int(self.config.max_len)), items)

    def score_in_context(
        self,
        histories: sp.csr_matrix,
        recency: sp.csr_matrix | None,
        context: np.ndarray | None,
        items: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores of each ordered run with the context codes of its event to predict added
        at the predicting position (None, or all codes 0, gives ``score_in_order``)."""
        if context is None or not self.uses_context:
            return self.score_in_order(histories, recency, items)
        self._check_fitted()
        h = as_csr(histories, self.n_items)
        r = None if recency is None else as_csr(recency, self.n_items)
        codes = np.asarray(context, dtype=np.int32)
        if codes.ndim == 1:  # one context for every row
            codes = np.broadcast_to(codes, (h.shape[0], len(codes)))
        seqs = sequences(h, r, int(self.config.max_len))
        return self._score_sequences(seqs, items, codes=codes)

    # -- explanations --------------------------------------------------------------------
    def explain(self, history: sp.csr_matrix, item: int) -> SequenceExplanation:
        return self.explain_in_order(history, None, item)

    def explain_in_order(
        self, history: sp.csr_matrix, recency: sp.csr_matrix | None, item: int
    ) -> SequenceExplanation:
        """Each history item's contribution = score − score of the run without it."""
        self._check_fitted()
        item = int(item)
        if not 0 <= item < self.n_items:
            raise ConfigError(f"item index must be in [0, {self.n_items}) (got {item!r})")
        h = as_csr(history, self.n_items)[:1]
        h.sort_indices()
        n = len(h.indices)
        r = None if recency is None else as_csr(recency, self.n_items)[:1]
        # row 0: the history; row 1: the empty history; row 2 + j: without its j-th item
        empty = sp.csr_matrix((1, self.n_items), dtype=np.float32)
        rows = sp.vstack([h, empty] + [_without(h, j) for j in range(n)]).tocsr()
        ranks = None
        if r is not None:
            ranks = sp.vstack([r.multiply(rows[k] > 0) for k in range(n + 2)]).tocsr()
        s = self.score_in_order(rows, ranks, np.array([item]))[:, 0].astype(np.float64)
        rec = np.zeros(n) if r is None else np.asarray(r[0, h.indices].toarray()).ravel()
        return SequenceExplanation(
            item=item,
            score=float(s[0]),
            base=float(s[1]),
            history_items=h.indices.copy(),
            contributions=s[0] - s[2:],
            exact=False,
            without=s[2:],
            recency=rec,
        )

    # -- persistence ---------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "item_vectors": np.asarray(self._network.outputs(), dtype=np.float32),
            **self._context_arrays(),
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """The context vocabulary (and tables); the network itself comes from
        ``model.keras`` (``KerasFiles.load``)."""
        self._set_context_arrays(arrays)


def _without(h: sp.csr_matrix, j: int) -> sp.csr_matrix:
    """Row ``h`` (1 × n_items) without its j-th stored entry."""
    keep = np.arange(len(h.indices)) != j
    return sp.csr_matrix((h.data[keep], h.indices[keep], [0, int(keep.sum())]), shape=h.shape)
