"""Reason 3, "Score breakdown": the model's own additive score parts (*exact*).

Hybrid/two-tower/content: item bias + collaborative + content; NeuMF: bias + GMF +
MLP; explicit MF: global mean + user bias + item bias + match. The parts come from
``model.explain`` (or, for explicit MF, from its arrays), so they add up to the score.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_engine.explain.results import EXACT, Reason
from recsys_engine.models.base import Recommender

PART_LABELS = {
    "base": "Item bias (learned offset)",
    "collaborative": "Collaborative (similar histories)",
    "content": "Content match",
    "gmf": "GMF part (matrix factorisation)",
    "mlp": "MLP part (neural)",
    "mean": "Average rating",
    "user_bias": "User bias",
    "item_bias": "Item bias",
    "match": "Taste match (user × item vectors)",
    "context": "Context of the event",
}

#: What the towers' "base" part is, so it is not read as the item's popularity.
ITEM_BIAS_NOTE = (
    "The item bias is a per-item offset learned with the rest of the model, not the "
    "item's popularity: a popular item can have a negative one."
)


def new_item_note(model: Recommender, item: int) -> str | None:
    """For a pooled model with an ID part: when ``item`` has none (nobody interacted with it
    in training, so its ID vector is masked to zero), the sentence saying what its score is
    made of; None for any other item or model."""
    d = int(getattr(model, "id_dim", 0) or 0)
    v_out = getattr(model, "v_out", None)
    if not d or v_out is None or np.any(v_out[int(item), :d]):
        return None
    config = getattr(model, "config", None)
    prior = float(getattr(config, "popularity_prior", 0.0) or 0.0)
    how = getattr(config, "new_item_prior", "observed")
    if not prior:
        extra = ""
    elif how == "median":
        extra = ", plus the popularity prior of a typical item"
    else:
        extra = ", plus the popularity prior of an item nobody chose (which pushes it down)"
    return (
        "This item is new: nobody interacted with it in training, so it has no "
        f"collaborative part; its score comes from its content{extra}."
    )


def breakdown_reason(
    parts: dict[str, float], score: float, model: str, *, new_item: str | None = None
) -> Reason:
    """The breakdown reason of one item from its named parts and score; ``new_item`` is the
    ``new_item_note`` of a new arrival (its collaborative part is then exactly 0)."""
    labels = {**PART_LABELS, "base": "Global bias"} if model == "neumf" else PART_LABELS
    rows = [{"part": labels.get(k, k), "key": k, "value": float(v)} for k, v in parts.items()]
    total = float(sum(parts.values()))
    biggest = max(rows[1:] or rows, key=lambda r: abs(r["value"]))
    summary = (
        f"Score {score:.3g} = "
        + " + ".join(f"{r['part'].lower()} {r['value']:.3g}" for r in rows)
        + f"; the largest part is {biggest['part'].lower()}."
    )
    if "base" in parts and model != "neumf":
        summary += " " + ITEM_BIAS_NOTE
    if new_item and not parts.get("collaborative"):
        summary += " " + new_item
    return Reason(
        "breakdown",
        "Score breakdown",
        EXACT,
        summary,
        rows,
        {"sum_of_parts": total, "score": score, "residual": abs(total - score)},
    )


def mf_parts(model: Recommender, history: sp.csr_matrix, item: int) -> dict[str, float] | None:
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
