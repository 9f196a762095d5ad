"""Reason 1, "Because you interacted with …": each history item's share of the score.

*Exact* for models whose score is additive over the history (EASE, ItemKNN, Transitions
and the history-pooled towers: ``model.explain``); *verified by re-scoring* for neural
models that explain by leave-one-out re-scoring (Mult-VAE: a ``RescoredExplanation``,
whose three largest contributions are re-scored again here); for per-user-embedding models
(NeuMF, explicit MF) the history items nearest to the item by item-embedding cosine,
*post hoc*. The
history items in attribution order feed the counterfactual search and the similar-users
context; the model's score parts, when it reports them, feed the score breakdown.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_engine.errors import RecsysError
from recsys_engine.explain.breakdown import mf_parts
from recsys_engine.explain.ordered import InOrder
from recsys_engine.explain.results import EXACT, POST_HOC, RESCORED, Reason
from recsys_engine.explain.wording import join_names
from recsys_engine.models import model_title
from recsys_engine.models.base import Recommender
from recsys_engine.models.rescoring import RescoredExplanation, drop_each

#: History items whose re-scored contribution the explainer checks by scoring again.
RECHECKED = 3


def history_reason(
    model: Recommender,
    history: sp.csr_matrix,
    item: int,
    score: float,
    *,
    item_ids: np.ndarray,
    titles: np.ndarray,
    vectors: np.ndarray | None,
    per_user: bool,
) -> tuple[Reason, np.ndarray, dict[str, float] | None]:
    """The "because" reason, the history items in attribution order, breakdown parts."""
    title = "Because you interacted with …"
    if per_user:
        return post_hoc_history(model, history, item, title, item_ids, titles, vectors)
    ex = model.explain(history, item)
    if isinstance(ex, RescoredExplanation):
        return rescored_history(model, history, ex, score, title, item_ids, titles)
    parts = dict(getattr(ex, "parts", {}) or {}) or None
    if model.name == "popularity":
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
    if model.needs_order:
        # an order-aware model's vote is 0 for every item older than its last few: those
        # rows say nothing, so only the items that move the score are listed (the sum of
        # the parts, checked below, is the same with or without zeros)
        idx = idx[contrib[idx] != 0]
    rows = [
        {
            "item_id": str(item_ids[hist[j]]),
            "title": str(titles[hist[j]]),
            "contribution": float(contrib[j]),
            "share": float(contrib[j] / personal) if abs(personal) > 1e-12 else None,
        }
        for j in idx
    ]
    positive = [r for r in rows if r["contribution"] > 0]
    if positive:
        shown = positive[:3]
        names = join_names(
            [r["title"] + ("" if r["share"] is None else f" ({r['share']:.0%})") for r in shown]
        )
        them = "it" if len(shown) == 1 else "them"
        summary = f"Mostly because of {names} (share of the history-driven score)."
        if isinstance(model, InOrder):
            summary = (
                f"Because you just interacted with {names}: this item often came next "
                f"after {them} (share of the score)."
            )
        elif model.needs_order:
            summary = (
                f"Because of {names}: this item often came after {them} (share of the "
                "score; this history has no time order, so every item counts as recent)."
            )
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


def rescored_history(
    model: Recommender,
    history: sp.csr_matrix,
    ex: RescoredExplanation,
    score: float,
    title: str,
    item_ids: np.ndarray,
    titles: np.ndarray,
) -> tuple[Reason, np.ndarray, None]:
    """The reason of a leave-one-out explanation: contribution of history item j = how much
    the item's score drops when the history is re-scored without j.

    The check re-scores the ``RECHECKED`` largest claims independently of the model's own
    ``explain`` (one ``score`` call) and keeps the badge only when every one matches."""
    hist = np.asarray(ex.history_items)
    contrib = np.asarray(ex.contributions, dtype=np.float64)
    idx = np.argsort(-contrib, kind="stable")
    rows = [
        {
            "item_id": str(item_ids[hist[j]]),
            "title": str(titles[hist[j]]),
            "contribution": float(contrib[j]),
            "score_without": float(ex.score - contrib[j]),
        }
        for j in idx
    ]
    recency = getattr(ex, "recency", None)  # order-aware models (sasrec, gru4rec)
    if recency is not None and len(recency) == len(hist) and np.any(recency > 0):
        for r, j in zip(rows, idx, strict=True):
            r["recency"] = int(recency[j]) or None  # 1 = the most recent item
    h = sp.csr_matrix(history, dtype=np.float32)[:1]
    h.sort_indices()
    picked = idx[:RECHECKED]
    gap = 0.0
    if len(picked):
        pos = {int(i): p for p, i in enumerate(h.indices)}
        without = drop_each(h)[[pos[int(hist[j])] for j in picked]]
        again = np.asarray(model.score(without, np.array([ex.item])), dtype=np.float64)[:, 0]
        gap = float(np.max(np.abs((score - again) - contrib[picked])))
    tol = 1e-4 * max(1.0, abs(score))
    check = {
        "score": score,
        "score_of_empty_history": float(ex.base),
        "method": "leave-one-out re-scoring",
        "rechecked": int(len(picked)),
        "max_gap": gap,
        "rescored": bool(len(picked)),
        "verified": bool(gap <= tol) if len(picked) else None,
    }
    if not len(picked):
        check["why_unverified"] = "the history is empty, so there was nothing to re-score"
    elif gap > tol:
        check["why_unverified"] = (
            f"re-scoring without the top items moved the score by amounts up to {gap:.2g} "
            "away from the contributions claimed"
        )
    positive = [r for r in rows if r["contribution"] > 0]
    if positive:
        # the sign of the table's contribution column: + raises the score
        shown = positive[:3]
        names = join_names([f"{r['title']} (+{r['contribution']:.3g})" for r in shown])
        each = "its" if len(shown) == 1 else "each one's"
        summary = (
            f"Mostly because of {names}: the score drops by {each} number when that "
            "item is left out (re-scored; the network is not additive, so the contributions "
            "need not add up to the score)."
        )
    else:
        summary = "No history item pushes this item up: removing any one of them keeps or "
        summary += "raises its score."
    order = hist[idx][contrib[idx] > 0]
    return Reason("history", title, RESCORED, summary, rows, check), order, None


def post_hoc_history(
    model: Recommender,
    history: sp.csr_matrix,
    item: int,
    title: str,
    item_ids: np.ndarray,
    titles: np.ndarray,
    vectors: np.ndarray | None,
) -> tuple[Reason, np.ndarray, dict[str, float] | None]:
    """History items nearest to ``item`` by item-embedding cosine (per-user models)."""
    parts = None
    try:
        parts = dict(getattr(model.explain(history, item), "parts", {}) or {}) or None
    except RecsysError:
        parts = None
    if parts is None and model.name == "mf_explicit":
        parts = mf_parts(model, history, item)
    hist = history.indices
    if vectors is None:
        return (
            Reason(
                "history",
                title,
                None,
                f"Not available: {model_title(model.name)} exposes no item vectors to compare "
                "your history with.",
            ),
            np.array([], dtype=np.int64),
            parts,
        )
    sims = vectors[hist] @ vectors[item]
    idx = np.argsort(-sims, kind="stable")
    rows = [
        {
            "item_id": str(item_ids[hist[j]]),
            "title": str(titles[hist[j]]),
            "similarity": float(sims[j]),
        }
        for j in idx
    ]
    top3 = join_names([r["title"] for r in rows[:3]])
    summary = (
        f"Closest to {top3} in the model's item space (cosine of item embeddings). This "
        "model scores users by a learned user vector, so this is an after-the-fact "
        "reading, not the model's own reason."
    )
    order = hist[idx][sims[idx] > 0]
    return Reason("history", title, POST_HOC, summary, rows), order, parts


def item_vectors(model: Recommender) -> np.ndarray | None:
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
