"""The ``Explainer``: one fitted model's top-K lists with every reason and its context.

Built once per run (the split's lookups come from ``Catalogue``), then queried per stored
user or ad-hoc history. It ranks the catalogue exactly as evaluation does and hands the
listed items to the reason modules (``history``, ``taste``, ``breakdown``,
``counterfactual``) and to ``context``; the reasons themselves live there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine.errors import ConfigError, RecsysError
from recsys_engine.explain.breakdown import breakdown_reason, new_item_note
from recsys_engine.explain.catalogue import Catalogue
from recsys_engine.explain.content import ContentTower
from recsys_engine.explain.context import similar_users
from recsys_engine.explain.counterfactual import counterfactuals, popularity_counterfactuals
from recsys_engine.explain.event_context import InContext, context_effects, context_reason
from recsys_engine.explain.history import history_reason, item_vectors
from recsys_engine.explain.ordered import InOrder
from recsys_engine.explain.results import (
    ItemExplanation,
    Reason,
    Recommendations,
    follow_evidence,
)
from recsys_engine.explain.taste import taste_reasons
from recsys_engine.models import model_title
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import recency_matrix, top_k
from recsys_engine.split_data import SplitData
from recsys_engine.store import Store


class Explainer(Catalogue):
    """Explanations for one fitted model on one split (build once, query many times).

    Args:
        model: fitted model.
        data: the split the model was trained on (``split_data.load_split_data``).
        run_id: the run (for labels only).
        interactions: ``Store.coded_interactions(dataset, split)`` arrays (for ratings and
            dates of the history table), or None.

    Attributes:
        reads_order: whether the model ranks a history by its time order (an order-aware
            model on a split that keeps it); ad-hoc histories are then read in the order
            given, oldest first.
    """

    def __init__(
        self,
        model: Recommender,
        data: SplitData,
        *,
        run_id: int | None = None,
        interactions: dict[str, np.ndarray] | None = None,
    ):
        self.model = model
        self.run_id = run_id
        n_items = len(np.asarray(data.train.item_ids, dtype=object))
        if model.item_ids is not None and len(model.item_ids) != n_items:
            raise RecsysError(f"model has {len(model.item_ids)} items but the split has {n_items}")
        # each user is ranked from the histories evaluation scored them from
        super().__init__(data, interactions, inputs=data.inputs_for(model))
        self.per_user = model.knows_users_by_training_history
        self._content = ContentTower.from_model(model, data.train.items, self.item_ids)
        self._vectors = item_vectors(model) if self.per_user else None
        # order-aware models rank a stored user with their time order, as evaluation does,
        # and an ad-hoc history in the order it is given (``recommend_history``)
        self.reads_order = bool(model.needs_order and data.train.has_order)
        self._recency = data.input_recency() if self.reads_order else None
        # context-aware models rank a stored user in their test event's context, as
        # evaluation does (None: the model takes no context)
        self.context_vocab = getattr(model, "context_vocab", None) if model.uses_context else None
        self._user_codes = None
        if self.context_vocab is not None and data.test_context is not None:
            self._user_codes = data.test_context.first_per_user(data.train.n_users)

    @classmethod
    def from_run(cls, store: Store, run_id: int) -> Explainer:
        """Load a succeeded run's model and split."""
        from recsys_engine.evaluation import EvalOptions
        from recsys_engine.runs import load_run_model
        from recsys_engine.split_data import load_split_data

        run = store.get_run(run_id)
        model = load_run_model(store, run_id)
        opts = EvalOptions.from_dict(run["options"])
        data = load_split_data(store, run["split_id"], opts.positive_threshold)
        arrays = store.coded_interactions(run["dataset_id"], run["split_id"])
        return cls(model, data, run_id=int(run_id), interactions=arrays)

    @property
    def can_edit_history(self) -> bool:
        """Whether the model scores histories it never saw (what-if, new users)."""
        return not self.per_user

    def history_in_order(self, user_id: str) -> list[str]:
        """The item ids a stored user is ranked from, oldest first, newest last.

        This is the order ``recommend_history`` reads its ``item_ids`` in, so for an
        order-aware model ``recommend_history(history_in_order(u))`` ranks exactly as
        ``recommend_user(u)``: the order is the one the model ranks the user with (the
        reverse of ``InOrder``'s recency ranks, ties included). Other models ignore the
        order; theirs follows the dates of ``user_history`` for the reader.
        """
        row = self.user_row(user_id)
        view = self._in_order(None if self._recency is None else self._recency[row])
        if view is not None:
            ranks = view.recency(self.inputs[row])  # 1..n from the most recent, as ranked
            oldest_first = ranks.indices[np.argsort(-ranks.data, kind="stable")]
            return self.item_ids[oldest_first].astype(str).tolist()
        items = self.inputs.indices[self.inputs.indptr[row] : self.inputs.indptr[row + 1]]
        frame = self.user_history(user_id)  # newest first
        used = set(self.item_ids[items].astype(str))
        newest_first = pd.unique(frame["item_id"][frame["item_id"].isin(used)].to_numpy())
        return [str(i) for i in newest_first[::-1]]

    # -- recommendations ---------------------------------------------------------------------
    def user_context(self, user_id: str) -> dict[str, str | None] | None:
        """The context a stored user is ranked in (their first test event's), or None
        when the model takes no context."""
        if self.context_vocab is None:
            return None
        codes = self.context_vocab.neutral()[0]
        if self._user_codes is not None:
            codes = self._user_codes[self.user_row(user_id)]
        return self.context_vocab.decode(codes)

    def recommend_user(
        self,
        user_id: str,
        k: int = 10,
        explain: bool = True,
        context: dict[str, str | None] | None = None,
    ) -> Recommendations:
        """Top-``k`` of a stored user, exactly as evaluation ranked it (history = training
        and validation folds, those items excluded), with hit flags from the test fold.

        A context-aware model ranks in ``context`` ({field: value}, None = neutral), by
        default the user's test event's context (``user_context``)."""
        row = self.user_row(user_id)
        history = self.inputs[row]
        exclude = self.seen[row]
        test = set(self.test.indices[self.test.indptr[row] : self.test.indptr[row + 1]])
        model = self._in_order(None if self._recency is None else self._recency[row])
        if context is None:
            context = self.user_context(user_id)
        return self._recommend(
            history,
            exclude,
            k,
            explain,
            test,
            user_id=str(user_id),
            row=row,
            model=model,
            context=context,
        )

    def recommend_history(
        self,
        item_ids: Sequence[str],
        k: int = 10,
        explain: bool = True,
        user_id: str | None = None,
        context: dict[str, str | None] | None = None,
    ) -> Recommendations:
        """Top-``k`` for an ad-hoc history (a new user or an edited one), explained; a
        context-aware model ranks in ``context`` (None = the neutral context).

        An order-aware model (``reads_order``) reads ``item_ids`` as the history's time
        order, exactly as a stored user's (``recommend_user``): the order decides what it
        recommends, so sorting the items would change the list.

        Args:
            item_ids: the history (each item weight 1), oldest first and most recent last;
                an item given twice counts at its last place.
            k: list length.
            explain: compute the reasons.
            user_id: when the history is an edited stored user, hits come from their test
                fold.

        Raises:
            RecsysError: the model learns per-user embeddings and cannot score a new
                history, or the history is empty for a history-based model.
        """
        if self.per_user:
            raise RecsysError(
                f"model {self.model.name!r} learns one embedding per training user, so it "
                "cannot score a new or edited history without retraining; use a "
                "history-based model (ease, itemknn, two_tower, content, hybrid, popularity)"
            )
        run = self.item_index(item_ids) if len(item_ids) else np.array([], int)
        if len(run) == 0 and self.model.name != "popularity":
            raise ConfigError("the history is empty: pick at least one item")
        model = None
        if self.reads_order:
            # the recency ranks a stored user's time order gets (an item's last place counts)
            order = recency_matrix(np.array([0, len(run)]), run, len(self.item_ids))
            model = self._in_order(order)
        idx = np.unique(run)
        history = sp.csr_matrix(
            (np.ones(len(idx), dtype=np.float32), (np.zeros(len(idx), int), idx)),
            shape=(1, len(self.item_ids)),
        )
        test: set[int] | None = None
        row = None
        if user_id is not None:
            row = self.user_row(user_id)
            test = set(self.test.indices[self.test.indptr[row] : self.test.indptr[row + 1]])
        if context is None and self.context_vocab is not None:
            context = self.context_vocab.decode(self.context_vocab.neutral()[0])
        return self._recommend(
            history,
            history,
            k,
            explain,
            test,
            user_id=user_id,
            row=row,
            adhoc=True,
            model=model,
            context=context,
        )

    def similar_items(self, item_id: str, k: int = 10) -> pd.DataFrame:
        """Nearest items in the model's item space (rank, item_id, title, categories, score).

        History-based models: the items a one-item history of ``item_id`` scores highest;
        per-user-embedding models: cosine of their item embeddings.
        """
        item = int(self.item_index([item_id])[0])
        if self.per_user:
            if self._vectors is None:
                raise RecsysError(f"model {self.model.name!r} exposes no item vectors")
            v = self._vectors
            sims = v @ v[item]
            sims[item] = -np.inf
            items, scores = top_k(sims[None, :], k)
            items, scores = items[0], scores[0]
        else:
            items, scores = self.model.similar_items(item, k)
        keep = items >= 0
        items, scores = items[keep], scores[keep]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(items) + 1),
                "item_id": self.item_ids[items].astype(str),
                "title": self.titles[items],
                "categories": [", ".join(self.categories[i]) for i in items],
                "score": scores.astype(float),
            }
        )

    # -- core ----------------------------------------------------------------------------------
    def _in_order(self, recency: sp.csr_matrix | None) -> InOrder | None:
        """The model seen through one history's recency ranks (a 1-row ``recency_matrix``),
        so ranking and every re-scoring of the reasons keep that order; None when the model
        ignores order (the model itself is then used)."""
        if not self.reads_order or recency is None:
            return None
        return InOrder(self.model, recency)

    def _recommend(
        self,
        history: sp.csr_matrix,
        exclude: sp.csr_matrix,
        k: int,
        explain: bool,
        test: set[int] | None,
        *,
        user_id: str | None,
        row: int | None,
        adhoc: bool = False,
        model: Recommender | None = None,
        context: dict[str, str | None] | None = None,
    ) -> Recommendations:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ConfigError(f"k must be a positive integer (got {k!r})")
        t0 = time.perf_counter()
        model = self.model if model is None else model
        codes = None
        if context is not None and self.context_vocab is not None:
            codes = self.context_vocab.encode_one(context)
            model = InContext(model, codes)
        history = sp.csr_matrix(history, dtype=np.float32)
        history.sort_indices()
        scores = np.array(model.score(history), dtype=np.float32)
        if not model.can_score(history)[0] or not np.isfinite(scores).all():
            who = f"user {user_id!r}" if user_id is not None else "this history"
            raise RecsysError(
                f"model {model.name!r} cannot score {who}: it has no training history the "
                "model knows"
            )
        scores[0, exclude.indices] = -np.inf
        top, top_scores = top_k(scores, int(k))
        keep = top[0] >= 0
        top, top_scores = top[0][keep], top_scores[0][keep]
        notes: list[str] = []
        reasons: list[list[Reason]] = [[] for _ in top]
        order: list[np.ndarray] = [np.array([], dtype=np.int64) for _ in top]
        if explain and len(top):
            reasons, order = self._explain(
                history, exclude, top, top_scores, scores[0], notes, model=model
            )
            if codes is not None:
                effects = context_effects(
                    model.model, history, exclude, top, codes, self.context_vocab
                )
                for r, effect in enumerate(effects):
                    reasons[r].append(follow_evidence(context_reason(effect)))
        items = []
        for r, (i, s) in enumerate(zip(top, top_scores, strict=True)):
            n_sim, n_chose = similar_users(
                self._train_csc, order[r][:3], int(i), None if adhoc else row
            )
            items.append(
                ItemExplanation(
                    item_id=str(self.item_ids[i]),
                    title=str(self.titles[i]),
                    categories=list(self.categories[i]),
                    rank=r + 1,
                    score=float(s),
                    hit=None if test is None else bool(int(i) in test),
                    popularity=int(self.popularity[i]),
                    popularity_percentile=round(float(self.percentile[i]), 1),
                    more_popular_than=float(self.more_popular[i]),
                    similar_users=n_sim,
                    similar_users_chose=n_chose,
                    reasons=reasons[r],
                )
            )
        return Recommendations(
            model=model.name,
            run_id=self.run_id,
            user_id=user_id,
            history=self.item_ids[history.indices].astype(str).tolist(),
            k=int(k),
            items=items,
            seconds=time.perf_counter() - t0,
            notes=notes,
            context=None if codes is None else self.context_vocab.decode(codes),
        )

    def _explain(
        self,
        history: sp.csr_matrix,
        exclude: sp.csr_matrix,
        top: np.ndarray,
        top_scores: np.ndarray,
        all_scores: np.ndarray,
        notes: list[str],
        model: Recommender | None = None,
    ) -> tuple[list[list[Reason]], list[np.ndarray]]:
        """Every reason of every listed item; returns reasons and attribution orders.

        ``model`` is the model the list was ranked with (``InOrder`` for a stored user of an
        order-aware model), so re-scoring keeps the same order."""
        k = len(top)
        model = self.model if model is None else model
        reasons: list[list[Reason]] = [[] for _ in range(k)]
        orders: list[np.ndarray] = []
        parts: list[dict[str, float] | None] = []
        for r, item in enumerate(top):
            reason, order, part = history_reason(
                model,
                history,
                int(item),
                float(top_scores[r]),
                item_ids=self.item_ids,
                titles=self.titles,
                vectors=self._vectors,
                per_user=self.per_user,
            )
            reasons[r].append(reason)
            orders.append(order)
            parts.append(part)
        taste = taste_reasons(
            model,
            history,
            top,
            top_scores,
            notes,
            per_user=self.per_user,
            content=self._content,
            cat_matrix=self._cat_matrix,
            cat_names=self._cat_names,
        )
        for r, reason in enumerate(taste):
            if reason is not None:
                reasons[r].append(reason)
        for r, part in enumerate(parts):
            if part:
                note = new_item_note(model, top[r])
                score = float(top_scores[r])
                reasons[r].append(breakdown_reason(part, score, model.name, new_item=note))
        if self.per_user:
            notes.append(
                f"'What would change it' needs re-scoring an edited history, which "
                f"{model_title(model.name)} cannot do (one embedding per training user)."
            )
        elif model.name == "popularity":
            for r, reason in enumerate(popularity_counterfactuals(model, history, exclude, top)):
                reasons[r].append(reason)
        else:
            changes = counterfactuals(
                model, history, exclude, top, orders, item_ids=self.item_ids, titles=self.titles
            )
            for r, reason in enumerate(changes):
                reasons[r].append(reason)
        # The checks decide the badges: a residual or a failed re-score lowers them.
        return [[follow_evidence(x) for x in rs] for rs in reasons], orders
