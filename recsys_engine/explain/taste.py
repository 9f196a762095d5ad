"""Reason 2, "Matches your taste for …": which content of the history lifts the item.

With a content tower (content, hybrid) the attributions come from ``content``. Without
one, each category of the history is toggled off (its history items removed) and the item
re-scored, all categories in one ``score`` call; *verified by re-scoring*. Popularity and
per-user-embedding models get no taste reason (the latter cannot re-score an edited
history).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_engine.explain.content import ContentTower
from recsys_engine.explain.results import EXACT, RESCORED, Reason
from recsys_engine.explain.wording import join_names
from recsys_engine.models import model_title
from recsys_engine.models.base import Recommender

#: Most history categories toggled per explanation (the most frequent ones).
MAX_CATEGORIES = 40


def taste_reasons(
    model: Recommender,
    history: sp.csr_matrix,
    top: np.ndarray,
    top_scores: np.ndarray,
    notes: list[str],
    *,
    per_user: bool,
    content: ContentTower | None,
    cat_matrix: sp.csr_matrix,
    cat_names: np.ndarray,
) -> list[Reason | None]:
    """The taste reason of every listed item (None where unavailable; ``notes`` says why)."""
    title = "Matches your taste for …"
    k = len(top)
    if per_user:
        notes.append(
            "'Matches your taste' needs re-scoring an edited history, which "
            f"{model_title(model.name)} cannot do."
        )
        return [None] * k
    if model.name == "popularity":
        return [None] * k
    if content is not None:
        return content.reasons(model, history, top, top_scores, title)
    if cat_matrix.shape[1] == 0:
        notes.append("'Matches your taste' needs item categories; this dataset has none.")
        return [None] * k
    return category_toggles(model, history, top, top_scores, title, cat_matrix, cat_names)


def category_toggles(
    model: Recommender,
    history: sp.csr_matrix,
    top: np.ndarray,
    top_scores: np.ndarray,
    title: str,
    cat_matrix: sp.csr_matrix,
    cat_names: np.ndarray,
) -> list[Reason | None]:
    """Remove the history items of one category, re-score: all categories, one call."""
    hist = history.indices
    in_hist = cat_matrix[hist].toarray() > 0  # n_hist × n_cat
    wanted = np.asarray(cat_matrix[top].sum(axis=0)).ravel() > 0
    counts = in_hist.sum(axis=0)
    cats = np.flatnonzero((counts > 0) & wanted)
    cats = cats[np.argsort(-counts[cats], kind="stable")][:MAX_CATEGORIES]
    if len(cats) == 0:
        # A count, not a model claim: nothing to re-score, so the badge is exact.
        return [
            Reason(
                "taste",
                title,
                EXACT,
                "None of this item's categories appears in your history.",
                check={"method": "category count", "shared_categories": 0},
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
    rescored = np.asarray(model.score(rows, top), dtype=np.float64)  # n_cats × k
    ok = model.can_score(rows)
    rescored[~ok] = np.nan  # an emptied history cannot be scored at all
    out: list[Reason | None] = []
    for r, item in enumerate(top):
        has = cat_matrix[int(item)].toarray().ravel()[cats] > 0
        entries = []
        for c_pos in np.flatnonzero(has):
            drop = float(top_scores[r] - rescored[c_pos, r])
            entries.append(
                {
                    "feature": str(cat_names[cats[c_pos]]),
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
            # the drop as a share of the item's own score, so the table's percentages read
            # as "score lost", not as a split of 100% (a negative score has no such share)
            of_score = (
                f" ({e['share']:.0%} of its score)"
                if e["share"] is not None and top_scores[r] > 0
                else ""
            )
            summary = (
                f"Matches your taste for {join_names([x['feature'] for x in liked[:3]])}: "
                f"without your {e['history_items']} {e['feature']} item"
                f"{'s' if e['history_items'] != 1 else ''} its score would drop by "
                f"{e['contribution']:.3g}{of_score}."
            )
        elif entries:
            summary = "It shares categories with your history, but they do not raise it."
        else:
            summary = "None of this item's categories appears in your history."
        scored = [e for e in entries if e["contribution"] is not None]
        check = {
            "method": "category toggle (remove the category's history items)",
            "rescored": bool(scored) or not entries,
            "score": float(top_scores[r]),
        }
        if entries and not scored:
            check["why_unverified"] = (
                "removing these categories empties the history, which the model cannot score"
            )
        if not entries:  # a count, as above
            out.append(Reason("taste", title, EXACT, summary, [], check))
            continue
        out.append(Reason("taste", title, RESCORED, summary, entries, check))
    return out
