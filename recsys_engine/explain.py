"""Explanations per recommendation (DESIGN §7): why an item is in a user's top-K.

An ``Explainer`` wraps one fitted model and its split (built once per run, then reused).
For a stored user or an ad-hoc history it returns the top-K list, and for each item up to
four reasons, each with a fidelity badge:

1. **Because you interacted with …** — each history item's share of the score. *Exact* for
   models whose score is additive over the history (EASE, ItemKNN and the history-pooled
   towers: ``model.explain``); for per-user-embedding models (NeuMF, explicit MF) the
   history items nearest to the item by item-embedding cosine, *post hoc*.
2. **Matches your taste for …** — content features. With a content tower (content, hybrid)
   the content score is linear in the user's pooled feature profile p (the weighted mean
   of the history items' feature rows): content(p, i) = (p·C_in)·c_out_i. Feature f's
   attribution is the score lost when p_f is set to the baseline p̄_f (a history of the
   same length made of catalogue-average items): a_f = (p_f − p̄_f)·⟨C_in[f], c_out_i⟩.
   Because the function is linear in p these toggles add up, and they equal integrated
   gradients along the straight path from p̄ to p at any number of steps. The sum is
   checked against the model's own score of the baseline profile (re-scoring), so the
   badge is *verified by re-scoring*. Without a content tower: each category of the
   history is toggled off (its history items removed) and the item re-scored, all
   categories in one ``score`` call; also *verified by re-scoring*.
3. **Score breakdown** — the model's own additive parts (hybrid/two-tower/content: item
   baseline + collaborative + content; NeuMF: bias + GMF + MLP; explicit MF: global mean +
   user bias + item bias + match); *exact*.
4. **What would change it** — history items are removed greedily in attribution order (at
   most 5) and the catalogue re-ranked after each removal (one ``score`` call for every
   removal of every item of the list); the first removal set that pushes the item out of
   the top-K, and the item that takes its place. The items originally excluded (the
   user's seen items) stay excluded, so a removed item never "replaces" itself.

Context per item: its training popularity percentile and how many training users who share
at least one of the top-3 attributed history items chose it too.

Per-user-embedding models know only their training users, so what-if histories raise a
``RecsysError`` saying so.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine.errors import ConfigError, RecsysError
from recsys_engine.models.base import Recommender, top_k

EXACT = "exact"
RESCORED = "verified by re-scoring"
POST_HOC = "post hoc"
FIDELITIES = (EXACT, RESCORED, POST_HOC)

#: Most history items removed when searching a counterfactual.
MAX_REMOVALS = 5
#: Most history categories toggled per explanation (the most frequent ones).
MAX_CATEGORIES = 40
#: Models that learn one embedding per training user (cannot score new histories).
USER_EMBEDDING_MODELS = ("neumf", "mf_explicit")

#: Keywords too common to mean anything to a reader (kept in the rows, left out of summaries).
_STOP_WORDS = frozenset(
    "a an and are as at be by for from has he her his in is it its of on or she that the "
    "their they this to was were will with who whom into about after over".split()
)

_PART_LABELS = {
    "base": "Item baseline (popularity)",
    "collaborative": "Collaborative (similar histories)",
    "content": "Content match",
    "gmf": "GMF part (matrix factorisation)",
    "mlp": "MLP part (neural)",
    "mean": "Average rating",
    "user_bias": "User bias",
    "item_bias": "Item bias",
    "match": "Taste match (user × item vectors)",
}


@dataclass
class Reason:
    """One explanation type for one recommended item.

    Attributes:
        kind: ``history``, ``taste``, ``breakdown`` or ``counterfactual``.
        title: heading shown to the user.
        fidelity: ``exact``, ``verified by re-scoring`` or ``post hoc`` (None when the
            reason is not available for this model).
        summary: one plain sentence.
        rows: details (a list of JSON-ready dicts; columns depend on ``kind``).
        check: numbers backing the fidelity claim (e.g. sum of parts vs score).
    """

    kind: str
    title: str
    fidelity: str | None
    summary: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)


@dataclass
class ItemExplanation:
    """One recommended item with its reasons and context."""

    item_id: str
    title: str
    categories: list[str]
    rank: int
    score: float
    hit: bool | None
    popularity: int
    popularity_percentile: float
    similar_users: int
    similar_users_chose: int
    reasons: list[Reason] = field(default_factory=list)

    def reason(self, kind: str) -> Reason | None:
        """The reason of one kind, or None."""
        return next((r for r in self.reasons if r.kind == kind), None)


@dataclass
class Recommendations:
    """A top-K list for one history, with explanations when asked for.

    Attributes:
        model: registry name of the model.
        run_id: the run (None for a model used directly).
        user_id: the stored user (None for an ad-hoc history).
        history: item ids the model was given.
        k: list length asked for.
        items: the list, best first.
        seconds: time to compute the list and its explanations.
        notes: plain sentences about what is not available and why.
    """

    model: str
    run_id: int | None
    user_id: str | None
    history: list[str]
    k: int
    items: list[ItemExplanation]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """The list as a table (rank, item_id, title, categories, score, hit)."""
        return pd.DataFrame(
            [
                {
                    "rank": it.rank,
                    "item_id": it.item_id,
                    "title": it.title,
                    "categories": ", ".join(it.categories),
                    "score": it.score,
                    "hit": it.hit,
                }
                for it in self.items
            ],
            columns=["rank", "item_id", "title", "categories", "score", "hit"],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the CLI's ``--json``)."""
        return asdict(self)


# -- the explainer -------------------------------------------------------------------------
class Explainer:
    """Explanations for one fitted model on one split (build once, query many times).

    Args:
        model: fitted model.
        data: the split the model was trained on (``evaluation.load_split_data``).
        run_id: the run (for labels only).
        interactions: ``Store.coded_interactions(dataset, split)`` arrays (for ratings and
            dates of the history table), or None.
    """

    def __init__(
        self,
        model: Recommender,
        data: Any,
        *,
        run_id: int | None = None,
        interactions: dict[str, Any] | None = None,
    ):
        self.model = model
        self.run_id = run_id
        self.train = sp.csr_matrix(data.train.matrix, dtype=np.float32)
        self.train.sort_indices()
        self.seen = sp.csr_matrix(data.seen)
        self.test = sp.csr_matrix(data.test)
        self.item_ids = np.asarray(data.train.item_ids, dtype=object)
        self.user_ids = np.asarray(data.train.user_ids, dtype=object)
        if model.item_ids is not None and len(model.item_ids) != len(self.item_ids):
            raise RecsysError(
                f"model has {len(model.item_ids)} items but the split has {len(self.item_ids)}"
            )
        self._items = pd.Index(self.item_ids.astype(str))
        self._users = pd.Index(self.user_ids.astype(str))
        self.titles, self.categories = _item_metadata(data.train.items, self.item_ids)
        self._cat_matrix, self._cat_names = _category_matrix(self.categories)
        self._train_csc = self.train.tocsc()
        self.popularity = np.diff(self._train_csc.indptr).astype(np.int64)
        # share of catalogue items at most as popular (0–100)
        order = np.sort(self.popularity)
        self.percentile = (
            100.0 * np.searchsorted(order, self.popularity, side="right") / max(1, len(order))
        )
        self.interactions = interactions
        self.per_user = model.name in USER_EMBEDDING_MODELS
        self._content = _ContentTower.from_model(model, data.train.items, self.item_ids)
        self._vectors = _item_vectors(model) if self.per_user else None

    @classmethod
    def from_run(cls, store: Any, run_id: int) -> Explainer:
        """Load a succeeded run's model and split."""
        from recsys_engine.evaluation import EvalOptions, load_run_model, load_split_data

        run = store.get_run(run_id)
        model = load_run_model(store, run_id)
        opts = EvalOptions.from_dict(run["options"])
        data = load_split_data(store, run["split_id"], opts.positive_threshold)
        arrays = store.coded_interactions(run["dataset_id"], run["split_id"])
        return cls(model, data, run_id=int(run_id), interactions=arrays)

    # -- lookups ---------------------------------------------------------------------------
    @property
    def can_edit_history(self) -> bool:
        """Whether the model scores histories it never saw (what-if, new users)."""
        return not self.per_user

    def test_users(self) -> np.ndarray:
        """Ids of users with test items (the ones evaluation scored), in index order."""
        rows = np.flatnonzero(np.diff(self.test.indptr) > 0)
        return self.user_ids[rows].astype(str)

    def item_index(self, item_ids: Any) -> np.ndarray:
        """Internal indexes of item ids; ``ConfigError`` naming unknown ids."""
        ids = [str(i) for i in np.atleast_1d(np.asarray(item_ids, dtype=object))]
        idx = self._items.get_indexer(ids)
        if (idx < 0).any():
            bad = [i for i, j in zip(ids, idx, strict=True) if j < 0][:5]
            raise ConfigError(f"unknown item id(s) {', '.join(map(repr, bad))}")
        return idx

    def user_row(self, user_id: str) -> int:
        """Internal index of a user id; ``ConfigError`` when unknown."""
        row = self._users.get_indexer([str(user_id)])[0]
        if row < 0:
            raise ConfigError(f"unknown user id {user_id!r} in this run's dataset")
        return int(row)

    def item_labels(self) -> pd.DataFrame:
        """Every item with a display label ``title (id)``, most popular first (pickers)."""
        frame = pd.DataFrame(
            {
                "item_id": self.item_ids.astype(str),
                "title": self.titles,
                "popularity": self.popularity,
            }
        )
        frame["label"] = frame["title"] + " (" + frame["item_id"] + ")"
        return frame.sort_values(["popularity", "item_id"], ascending=[False, True]).reset_index(
            drop=True
        )

    def user_history(self, user_id: str) -> pd.DataFrame:
        """A user's interactions: item_id, title, categories, rating, date, fold.

        ``fold`` is ``train`` (what the model sees), ``validation`` or ``test`` (held out:
        the items we hope to recommend). Newest first when dates exist.
        """
        row = self.user_row(user_id)
        a = self.interactions
        if a is not None and "fold" in a:
            lo, hi = np.searchsorted(a["user"], [row, row + 1])
            items = a["item"][lo:hi]
            folds = np.array(["train", "validation", "test"], dtype=object)[a["fold"][lo:hi]]
            rating = a["rating"][lo:hi]
            ts = a["ts"][lo:hi]
        else:  # no stored arrays: the split matrices only
            parts = [(self.seen, "train"), (self.test, "test")]
            items = np.concatenate([m.indices[m.indptr[row] : m.indptr[row + 1]] for m, _ in parts])
            folds = np.concatenate(
                [[f] * (m.indptr[row + 1] - m.indptr[row]) for m, f in parts]
            ).astype(object)
            rating = np.full(len(items), np.nan)
            ts = np.full(len(items), np.nan)
        frame = pd.DataFrame(
            {
                "item_id": self.item_ids[items].astype(str),
                "title": self.titles[items],
                "categories": [", ".join(self.categories[i]) for i in items],
                "rating": rating,
                "date": pd.to_datetime(ts, unit="s", errors="coerce"),
                "fold": folds,
            }
        )
        return frame.sort_values(["date", "title"], ascending=[False, True], na_position="last")

    # -- recommendations ---------------------------------------------------------------------
    def recommend_user(self, user_id: str, k: int = 10, explain: bool = True) -> Recommendations:
        """Top-``k`` of a stored user, exactly as evaluation ranked it (history = training
        fold, training and validation items excluded), with hit flags from the test fold."""
        row = self.user_row(user_id)
        history = self.train[row]
        exclude = self.seen[row]
        test = set(self.test.indices[self.test.indptr[row] : self.test.indptr[row + 1]])
        return self._recommend(history, exclude, k, explain, test, user_id=str(user_id), row=row)

    def recommend_history(
        self,
        item_ids: Any,
        k: int = 10,
        explain: bool = True,
        user_id: str | None = None,
    ) -> Recommendations:
        """Top-``k`` for an ad-hoc history (a new user or an edited one), explained.

        Args:
            item_ids: the history (each item weight 1).
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
        idx = np.unique(self.item_index(item_ids)) if len(item_ids) else np.array([], int)
        if len(idx) == 0 and self.model.name != "popularity":
            raise ConfigError("the history is empty: pick at least one item")
        history = sp.csr_matrix(
            (np.ones(len(idx), dtype=np.float32), (np.zeros(len(idx), int), idx)),
            shape=(1, len(self.item_ids)),
        )
        test: set[int] | None = None
        row = None
        if user_id is not None:
            row = self.user_row(user_id)
            test = set(self.test.indices[self.test.indptr[row] : self.test.indptr[row + 1]])
        return self._recommend(
            history, history, k, explain, test, user_id=user_id, row=row, adhoc=True
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
    ) -> Recommendations:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ConfigError(f"k must be a positive integer (got {k!r})")
        t0 = time.perf_counter()
        model = self.model
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
            reasons, order = self._explain(history, exclude, top, top_scores, scores[0], notes)
        items = []
        for r, (i, s) in enumerate(zip(top, top_scores, strict=True)):
            n_sim, n_chose = self._similar_users(order[r][:3], int(i), None if adhoc else row)
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
        )

    def _explain(
        self,
        history: sp.csr_matrix,
        exclude: sp.csr_matrix,
        top: np.ndarray,
        top_scores: np.ndarray,
        all_scores: np.ndarray,
        notes: list[str],
    ) -> tuple[list[list[Reason]], list[np.ndarray]]:
        """Every reason of every listed item; returns reasons and attribution orders."""
        k = len(top)
        reasons: list[list[Reason]] = [[] for _ in range(k)]
        orders: list[np.ndarray] = []
        parts: list[dict[str, float] | None] = []
        for r, item in enumerate(top):
            reason, order, part = self._history_reason(history, int(item), float(top_scores[r]))
            reasons[r].append(reason)
            orders.append(order)
            parts.append(part)
        for r, reason in enumerate(self._taste_reasons(history, top, top_scores, notes)):
            if reason is not None:
                reasons[r].append(reason)
        for r, part in enumerate(parts):
            if part:
                reasons[r].append(_breakdown_reason(part, float(top_scores[r]), self.model.name))
        if self.per_user:
            notes.append(
                f"'What would change it' needs re-scoring an edited history, which "
                f"{self.model.name} cannot do (one embedding per training user)."
            )
        elif self.model.name == "popularity":
            for r in range(k):
                reasons[r].append(
                    Reason(
                        "counterfactual",
                        "What would change it",
                        RESCORED,
                        "No change to the history changes this list: popularity ranks "
                        "the same items for everyone.",
                    )
                )
        else:
            for r, reason in enumerate(self._counterfactuals(history, exclude, top, orders)):
                reasons[r].append(reason)
        return reasons, orders

    # 1. because you interacted with -----------------------------------------------------------
    def _history_reason(
        self, history: sp.csr_matrix, item: int, score: float
    ) -> tuple[Reason, np.ndarray, dict[str, float] | None]:
        """The "because" reason, the history items in attribution order, breakdown parts."""
        title = "Because you interacted with …"
        if self.per_user:
            return self._post_hoc_history(history, item, title)
        ex = self.model.explain(history, item)
        parts = dict(getattr(ex, "parts", {}) or {}) or None
        if self.model.name == "popularity":
            return (
                Reason(
                    "history",
                    title,
                    EXACT,
                    "Your history plays no part: this model recommends the most popular "
                    "items to everyone.",
                    check={"score": score, "base": float(ex.base), "history_part": 0.0},
                ),
                np.array([], dtype=np.int64),
                None,
            )
        hist = np.asarray(ex.history_items)
        contrib = np.asarray(ex.contributions, dtype=np.float64)
        total = float(ex.base) + float(contrib.sum())
        personal = total - float(ex.base)
        idx = np.argsort(-contrib, kind="stable")
        rows = [
            {
                "item_id": str(self.item_ids[hist[j]]),
                "title": str(self.titles[hist[j]]),
                "contribution": float(contrib[j]),
                "share": float(contrib[j] / personal) if abs(personal) > 1e-12 else None,
            }
            for j in idx
        ]
        positive = [r for r in rows if r["contribution"] > 0]
        if positive:
            names = _join(
                [
                    r["title"] + ("" if r["share"] is None else f" ({r['share']:.0%})")
                    for r in positive[:3]
                ]
            )
            summary = f"Mostly because of {names} (share of the history-driven score)."
        else:
            summary = "No history item pushes this item up; it is here for its baseline score."
        order = hist[idx][contrib[idx] > 0]
        check = {
            "score": score,
            "base": float(ex.base),
            "sum_of_parts": total,
            "residual": abs(total - score),
        }
        fidelity = EXACT if ex.exact else POST_HOC
        return Reason("history", title, fidelity, summary, rows, check), order, parts

    def _post_hoc_history(
        self, history: sp.csr_matrix, item: int, title: str
    ) -> tuple[Reason, np.ndarray, dict[str, float] | None]:
        parts = None
        try:
            parts = dict(getattr(self.model.explain(history, item), "parts", {}) or {}) or None
        except RecsysError:
            parts = None
        if parts is None and self.model.name == "mf_explicit":
            parts = _mf_parts(self.model, history, item)
        hist = history.indices
        if self._vectors is None:
            return (
                Reason(
                    "history",
                    title,
                    None,
                    f"Not available: {self.model.name} exposes no item vectors to compare "
                    "your history with.",
                ),
                np.array([], dtype=np.int64),
                parts,
            )
        sims = self._vectors[hist] @ self._vectors[item]
        idx = np.argsort(-sims, kind="stable")
        rows = [
            {
                "item_id": str(self.item_ids[hist[j]]),
                "title": str(self.titles[hist[j]]),
                "similarity": float(sims[j]),
            }
            for j in idx
        ]
        top3 = _join([r["title"] for r in rows[:3]])
        summary = (
            f"Closest to {top3} in the model's item space (cosine of item embeddings). This "
            "model scores users by a learned user vector, so this is an after-the-fact "
            "reading, not the model's own reason."
        )
        order = hist[idx][sims[idx] > 0]
        return Reason("history", title, POST_HOC, summary, rows), order, parts

    # 2. matches your taste for -----------------------------------------------------------------
    def _taste_reasons(
        self,
        history: sp.csr_matrix,
        top: np.ndarray,
        top_scores: np.ndarray,
        notes: list[str],
    ) -> list[Reason | None]:
        title = "Matches your taste for …"
        k = len(top)
        if self.per_user:
            notes.append(
                "'Matches your taste' needs re-scoring an edited history, which "
                f"{self.model.name} cannot do."
            )
            return [None] * k
        if self.model.name == "popularity":
            return [None] * k
        if self._content is not None:
            return self._content.reasons(self.model, history, top, top_scores, title)
        if self._cat_matrix.shape[1] == 0:
            notes.append("'Matches your taste' needs item categories; this dataset has none.")
            return [None] * k
        return self._category_toggles(history, top, top_scores, title)

    def _category_toggles(
        self, history: sp.csr_matrix, top: np.ndarray, top_scores: np.ndarray, title: str
    ) -> list[Reason | None]:
        """Remove the history items of one category, re-score: all categories, one call."""
        hist = history.indices
        in_hist = self._cat_matrix[hist].toarray() > 0  # n_hist × n_cat
        wanted = np.asarray(self._cat_matrix[top].sum(axis=0)).ravel() > 0
        counts = in_hist.sum(axis=0)
        cats = np.flatnonzero((counts > 0) & wanted)
        cats = cats[np.argsort(-counts[cats], kind="stable")][:MAX_CATEGORIES]
        if len(cats) == 0:
            return [
                Reason(
                    "taste",
                    title,
                    RESCORED,
                    "None of this item's categories appears in your history.",
                )
                for _ in top
            ]
        keep = ~in_hist[:, cats].T  # n_cats × n_hist: history rows without the category
        rows = sp.csr_matrix(
            (
                np.tile(history.data, len(cats))[keep.ravel()],
                np.tile(hist, len(cats))[keep.ravel()],
                np.concatenate([[0], np.cumsum(keep.sum(axis=1))]),
            ),
            shape=(len(cats), history.shape[1]),
        )
        rescored = np.asarray(self.model.score(rows, top), dtype=np.float64)  # n_cats × k
        ok = self.model.can_score(rows)
        rescored[~ok] = np.nan  # an emptied history cannot be scored at all
        out: list[Reason | None] = []
        for r, item in enumerate(top):
            has = self._cat_matrix[int(item)].toarray().ravel()[cats] > 0
            entries = []
            for c_pos in np.flatnonzero(has):
                drop = float(top_scores[r] - rescored[c_pos, r])
                entries.append(
                    {
                        "feature": str(self._cat_names[cats[c_pos]]),
                        "kind": "category",
                        "history_items": int(counts[cats[c_pos]]),
                        "contribution": None if np.isnan(drop) else drop,
                        "share": None
                        if np.isnan(drop) or abs(top_scores[r]) < 1e-12
                        else drop / float(top_scores[r]),
                    }
                )
            entries.sort(key=lambda e: -(e["contribution"] or 0.0))
            liked = [e for e in entries if (e["contribution"] or 0) > 0]
            if liked:
                e = liked[0]
                summary = (
                    f"Matches your taste for {_join([x['feature'] for x in liked[:3]])}: "
                    f"without your {e['history_items']} {e['feature']} item"
                    f"{'s' if e['history_items'] != 1 else ''} its score would drop by "
                    f"{e['contribution']:.3g}."
                )
            elif entries:
                summary = "It shares categories with your history, but they do not raise it."
            else:
                summary = "None of this item's categories appears in your history."
            out.append(
                Reason(
                    "taste",
                    title,
                    RESCORED,
                    summary,
                    entries,
                    {"method": "category toggle (remove the category's history items)"},
                )
            )
        return out

    # 4. what would change it -------------------------------------------------------------------
    def _counterfactuals(
        self,
        history: sp.csr_matrix,
        exclude: sp.csr_matrix,
        top: np.ndarray,
        orders: list[np.ndarray],
    ) -> list[Reason]:
        """Greedy removals in attribution order, all re-ranked in one ``score`` call."""
        k = len(top)
        hist = history.indices
        rows_items: list[np.ndarray] = []
        owner: list[tuple[int, int]] = []  # (listed item position, number removed)
        for r in range(k):
            for m in range(1, min(MAX_REMOVALS, len(orders[r])) + 1):
                removed = orders[r][:m]
                rows_items.append(np.setdiff1d(hist, removed, assume_unique=True))
                owner.append((r, m))
        results: list[Reason] = []
        title = "What would change it"
        found: dict[int, tuple[int, int | None]] = {}
        if rows_items:
            data_of = dict(zip(hist.tolist(), history.data.tolist(), strict=True))
            indptr = np.concatenate([[0], np.cumsum([len(x) for x in rows_items])])
            indices = np.concatenate(rows_items).astype(np.int64)
            values = np.array([data_of[i] for i in indices], dtype=np.float32)
            batch = sp.csr_matrix(
                (values, indices, indptr), shape=(len(rows_items), len(self.item_ids))
            )
            scores = np.array(self.model.score(batch), dtype=np.float32)
            scores[~self.model.can_score(batch)] = -np.inf
            scores[:, exclude.indices] = -np.inf
            new_top, _ = top_k(scores, k)
            for b, (r, m) in enumerate(owner):
                if r in found:
                    continue
                if int(top[r]) not in set(new_top[b].tolist()):
                    entrants = [i for i in new_top[b] if i >= 0 and i not in set(top.tolist())]
                    found[r] = (m, int(entrants[0]) if entrants else None)
        for r in range(k):
            if r not in found:
                n = min(MAX_REMOVALS, len(orders[r]))
                summary = (
                    "No history item pushes this item up, so removing history does not drop it."
                    if n == 0
                    else f"Robust: even without the {n} history item{'s' if n > 1 else ''} "
                    f"that help it most, it stays in the top {k}."
                )
                results.append(
                    Reason(
                        title=title,
                        kind="counterfactual",
                        fidelity=RESCORED,
                        summary=summary,
                        check={"tried_removals": n},
                    )
                )
                continue
            m, replacement = found[r]
            removed = orders[r][:m]
            rows = [
                {"item_id": str(self.item_ids[i]), "title": str(self.titles[i])} for i in removed
            ]
            repl = (
                None
                if replacement is None
                else {
                    "item_id": str(self.item_ids[replacement]),
                    "title": str(self.titles[replacement]),
                }
            )
            names = _join([x["title"] for x in rows])
            summary = f"Without {names}, this item would leave your top {k}" + (
                f" and {repl['title']} would take its place." if repl else "."
            )
            results.append(
                Reason(
                    "counterfactual",
                    title,
                    RESCORED,
                    summary,
                    rows,
                    {"removed": len(rows), "replacement": repl, "verified": True},
                )
            )
        return results

    # context ----------------------------------------------------------------------------------
    def _similar_users(self, anchors: np.ndarray, item: int, row: int | None) -> tuple[int, int]:
        """Training users sharing ≥ 1 anchor item, and how many of them chose ``item``."""
        if len(anchors) == 0:
            return 0, 0
        c = self._train_csc
        users = np.unique(
            np.concatenate([c.indices[c.indptr[a] : c.indptr[a + 1]] for a in anchors])
        )
        if row is not None:
            users = users[users != row]
        chose = np.intersect1d(users, c.indices[c.indptr[item] : c.indptr[item + 1]])
        return int(len(users)), int(len(chose))


def compare_lists(a: Recommendations, b: Recommendations) -> pd.DataFrame:
    """Two top-K lists side by side (rank, item and title of each, in_other flags)."""
    ids_a = [it.item_id for it in a.items]
    ids_b = [it.item_id for it in b.items]
    n = max(len(ids_a), len(ids_b))
    rows = []
    for r in range(n):
        ia = a.items[r] if r < len(a.items) else None
        ib = b.items[r] if r < len(b.items) else None
        rows.append(
            {
                "rank": r + 1,
                "item_a": ia.item_id if ia else None,
                "title_a": ia.title if ia else None,
                "in_b": bool(ia and ia.item_id in ids_b),
                "item_b": ib.item_id if ib else None,
                "title_b": ib.title if ib else None,
                "in_a": bool(ib and ib.item_id in ids_a),
            }
        )
    return pd.DataFrame(rows)


def overlap(a: Recommendations, b: Recommendations) -> tuple[int, float]:
    """Number of shared items and Jaccard of two lists."""
    sa, sb = {it.item_id for it in a.items}, {it.item_id for it in b.items}
    union = sa | sb
    return len(sa & sb), (len(sa & sb) / len(union) if union else 0.0)


# -- helpers ----------------------------------------------------------------------------------
class _ContentTower:
    """The linear content tower of a content/hybrid model (feature rows, projections)."""

    def __init__(self, features: sp.csr_matrix, c_in: np.ndarray, names: np.ndarray, dim: int):
        self.x = features
        self.c_in = c_in
        self.names = names
        self.id_dim = dim
        self.mean = np.asarray(features.mean(axis=0), dtype=np.float64).ravel()

    @classmethod
    def from_model(
        cls, model: Recommender, items: pd.DataFrame | None, item_ids: np.ndarray
    ) -> _ContentTower | None:
        keras_model = getattr(model, "_keras_model", None)
        if keras_model is None or getattr(model, "v_in", None) is None:
            return None
        try:
            layer = keras_model.get_layer("towers")
        except ValueError:
            return None
        if not int(getattr(layer, "content_dim", 0) or 0):
            return None
        c_in = np.asarray(layer.content_in, dtype=np.float64)
        idx = np.asarray(layer.feature_indices)
        vals = np.asarray(layer.feature_values, dtype=np.float64)
        n_items, n_features = model.v_in.shape[0], c_in.shape[0]
        x = sp.csr_matrix((vals, (idx[:, 0], idx[:, 1])), shape=(n_items, n_features))
        d = int(model.id_dim)
        # only trust the tower when it reproduces the model's own item vectors
        if not np.allclose(x @ c_in, model.v_in[:, d:], atol=1e-4, rtol=1e-3):
            return None
        names = np.array([f"feature {j}" for j in range(n_features)], dtype=object)
        try:
            from recsys_engine.features import item_features

            feats = item_features(items, item_ids, model.config.feature_options())
            if feats.matrix.shape == x.shape and abs(feats.matrix - x).max() < 1e-4:
                names = feats.names.astype(object)
        except (RecsysError, AttributeError, ValueError):
            pass
        return cls(x, c_in, names, d)

    def reasons(
        self,
        model: Any,
        history: sp.csr_matrix,
        top: np.ndarray,
        top_scores: np.ndarray,
        title: str,
    ) -> list[Reason]:
        """Feature attributions against the catalogue-average profile, checked by
        re-scoring the baseline profile with the model's own item vectors."""
        h = model._weights(history)
        w = h.data.astype(np.float64) / max(float(model._norms(h)[0]), 1e-12)
        p = np.asarray(w @ self.x[h.indices].toarray()).ravel()  # pooled profile
        p_bar = float(w.sum()) * self.mean
        c_out = model.v_out[top, self.id_dim :].astype(np.float64)  # k × dc
        g = self.c_in @ c_out.T  # features × k
        attr = (p - p_bar)[:, None] * g
        # re-score: the same user with the baseline content profile
        u = model._user_vectors(h)[0].astype(np.float64)
        u_base = u.copy()
        u_base[self.id_dim :] = p_bar @ self.c_in
        full = np.asarray(model.score(history, top), dtype=np.float64)[0]
        base_scores = model.v_out[top].astype(np.float64) @ u_base + model.bias[top]
        diff = full - base_scores
        out = []
        for r, item in enumerate(top):
            col = attr[:, r]
            total = float(col.sum())
            item_feats = set(self.x[int(item)].indices.tolist())
            ranked = np.argsort(-col, kind="stable")
            ranked = ranked[col[ranked] > 0]
            shared = [f for f in ranked if int(f) in item_feats][:3]
            best = list(ranked[:8]) + [f for f in shared if f not in set(ranked[:8].tolist())]
            rows = []
            for f in best:
                kind, name = _feature_label(str(self.names[f]))
                rows.append(
                    {
                        "feature": name,
                        "kind": kind,
                        "contribution": float(col[f]),
                        "share": float(col[f] / diff[r]) if abs(diff[r]) > 1e-12 else None,
                        "item_has_it": int(f) in item_feats,
                    }
                )
            rel = abs(total - diff[r]) / max(abs(diff[r]), 1e-9)
            if rows:
                readable = [x for x in rows if x["feature"].lower() not in _STOP_WORDS]
                matched = [x for x in readable if x["item_has_it"]][:3] or readable[:3] or rows[:3]
                summary = (
                    f"Matches your taste for {_join([_quoted(x) for x in matched])}: "
                    f"your content profile lifts its score by {diff[r]:.3g} over a "
                    "catalogue-average profile."
                )
            else:
                summary = "Your content profile does not lift this item above the average."
            out.append(
                Reason(
                    "taste",
                    title,
                    RESCORED,
                    summary,
                    rows,
                    {
                        "method": "toggle each feature of the pooled profile to the catalogue "
                        "average (= integrated gradients: the content score is linear)",
                        "sum_of_attributions": total,
                        "score_minus_baseline": float(diff[r]),
                        "relative_error": float(rel),
                    },
                )
            )
        return out


def _breakdown_reason(parts: dict[str, float], score: float, model: str) -> Reason:
    labels = {**_PART_LABELS, "base": "Global bias"} if model == "neumf" else _PART_LABELS
    rows = [{"part": labels.get(k, k), "key": k, "value": float(v)} for k, v in parts.items()]
    total = float(sum(parts.values()))
    biggest = max(rows[1:] or rows, key=lambda r: abs(r["value"]))
    summary = (
        f"Score {score:.3g} = "
        + " + ".join(f"{r['part'].lower()} {r['value']:.3g}" for r in rows)
        + f"; the largest part is {biggest['part'].lower()}."
    )
    return Reason(
        "breakdown",
        "Score breakdown",
        EXACT,
        summary,
        rows,
        {"sum_of_parts": total, "score": score, "residual": abs(total - score)},
    )


def _mf_parts(model: Any, history: sp.csr_matrix, item: int) -> dict[str, float] | None:
    """μ + b_u + b_i + ⟨p_u, q_i⟩ of the explicit MF model (None when unknown)."""
    a = getattr(model, "arrays", None)
    if not a or "q" not in a:
        return None
    user = int(model.known.index(history)[0])
    if user < 0:
        return None
    return {
        "mean": float(a["mu"]),
        "user_bias": float(a["bu"][user]),
        "item_bias": float(a["bi"][item]),
        "match": float(np.dot(a["p"][user], a["q"][item])),
    }


def _item_vectors(model: Any) -> np.ndarray | None:
    """Unit-norm item embeddings of a per-user-embedding model (None when absent)."""
    a = getattr(model, "arrays", None) or {}
    if "q" in a:
        v = np.asarray(a["q"], dtype=np.float64)
    elif "gmf_item" in a:
        parts = [np.asarray(a[k], dtype=np.float64) for k in ("gmf_item", "mlp_item") if k in a]
        parts = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in parts]
        v = np.hstack(parts)
    else:
        return None
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _item_metadata(items: pd.DataFrame | None, item_ids: np.ndarray) -> tuple[np.ndarray, list]:
    """Titles (item id when missing) and category lists aligned to ``item_ids``."""
    ids = np.asarray(item_ids, dtype=object).astype(str)
    titles = ids.astype(object).copy()
    cats: list[list[str]] = [[] for _ in ids]
    if items is None or len(items) == 0:
        return titles, cats
    frame = items.drop_duplicates("item_id", keep="last")
    pos = pd.Index(ids).get_indexer(frame["item_id"].astype(str))
    ok = pos >= 0
    if "title" in frame.columns:
        t = frame["title"].to_numpy(dtype=object)
        good = ok & pd.notna(t) & (pd.Series(t).astype(str).str.strip() != "").to_numpy()
        titles[pos[good]] = pd.Series(t[good]).astype(str).to_numpy()
    if "categories" in frame.columns:
        for p, v in zip(pos, frame["categories"].tolist(), strict=True):
            if p >= 0 and isinstance(v, list | tuple | np.ndarray):
                cats[p] = [str(c) for c in v]
    return titles, cats


def _category_matrix(categories: list[list[str]]) -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary items × categories matrix and the category names."""
    lengths = np.array([len(c) for c in categories])
    flat = np.array([c for cs in categories for c in cs], dtype=object)
    if len(flat) == 0:
        return sp.csr_matrix((len(categories), 0), dtype=np.float32), np.array([], dtype=object)
    codes, names = pd.factorize(flat, sort=True)
    m = sp.csr_matrix(
        (
            np.ones(len(codes), dtype=np.float32),
            (np.repeat(np.arange(len(categories)), lengths), codes),
        ),
        shape=(len(categories), len(names)),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m, np.asarray(names, dtype=object)


def _feature_label(name: str) -> tuple[str, str]:
    kind, _, value = name.partition(":")
    return {"text": "keyword", "category": "category", "numeric": "numeric"}.get(kind, "feature"), (
        value or name
    )


def _quoted(row: dict[str, Any]) -> str:
    return f"“{row['feature']}”" if row["kind"] == "keyword" else str(row["feature"])


def _join(names: list[str]) -> str:
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
