"""Comparing two top-K lists (two models, or a user before and after a what-if edit).

Works on ``Recommendations`` only, so it needs neither the models nor the split.
"""

from __future__ import annotations

import pandas as pd

from recsys_engine.explain.results import Recommendations


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
