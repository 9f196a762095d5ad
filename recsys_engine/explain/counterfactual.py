"""Reason 4, "What would change it": the history removals that drop an item from the list.

History items are removed greedily in attribution order (at most ``MAX_REMOVALS``) and the
catalogue re-ranked after each removal (one ``score`` call for every removal of every item
of the list); the first removal set that pushes the item out of the top-K, and the item
that takes its place. The items originally excluded (the user's seen items) stay excluded,
so a removed item never "replaces" itself. *Verified by re-scoring.* Popularity ignores
the history: its counterfactual re-ranks with an empty history to show that no change
to the history changes its list (``popularity_counterfactuals``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys_engine.explain.results import RESCORED, Reason
from recsys_engine.explain.wording import join_names
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import top_k

#: Most history items removed when searching a counterfactual.
MAX_REMOVALS = 5


def counterfactuals(
    model: Recommender,
    history: sp.csr_matrix,
    exclude: sp.csr_matrix,
    top: np.ndarray,
    orders: list[np.ndarray],
    *,
    item_ids: np.ndarray,
    titles: np.ndarray,
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
        batch = sp.csr_matrix((values, indices, indptr), shape=(len(rows_items), len(item_ids)))
        scores = np.array(model.score(batch), dtype=np.float32)
        scores[~model.can_score(batch)] = -np.inf
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
                    check={"tried_removals": n, "rescored": n > 0}
                    if n
                    else {
                        "tried_removals": 0,
                        "rescored": False,
                        "why_unverified": "no history item raises this item's score, so there "
                        "was nothing to remove and re-score",
                    },
                )
            )
            continue
        m, replacement = found[r]
        removed = orders[r][:m]
        rows = [{"item_id": str(item_ids[i]), "title": str(titles[i])} for i in removed]
        repl = (
            None
            if replacement is None
            else {
                "item_id": str(item_ids[replacement]),
                "title": str(titles[replacement]),
            }
        )
        names = join_names([x["title"] for x in rows])
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
                {"removed": len(rows), "replacement": repl, "verified": True, "rescored": True},
            )
        )
    return results


def popularity_counterfactuals(
    model: Recommender, history: sp.csr_matrix, exclude: sp.csr_matrix, top: np.ndarray
) -> list[Reason]:
    """Popularity's "what would change it": re-rank with an empty history to check that
    no change to the history changes the list (the same items stay excluded)."""
    empty = sp.csr_matrix((1, history.shape[1]), dtype=np.float32)
    scores = np.array(model.score(empty), dtype=np.float32)
    scores[0, exclude.indices] = -np.inf
    new_top, _ = top_k(scores, len(top))
    same = new_top[0][: len(top)].tolist() == np.asarray(top).tolist()
    check: dict[str, Any] = {
        "method": "re-ranked with an empty history",
        "rescored": True,
        "verified": same,
    }
    if same:
        summary = (
            "No change to the history changes this list: popularity ranks the same items "
            "for everyone (re-ranked with an empty history: the same list)."
        )
    else:
        summary = "Re-ranking with an empty history gave a different list."
        check["why_unverified"] = (
            "re-ranking with an empty history gave a different list, so the claim that "
            "history plays no part does not hold"
        )
    return [
        Reason("counterfactual", "What would change it", RESCORED, summary, check=dict(check))
        for _ in top
    ]
