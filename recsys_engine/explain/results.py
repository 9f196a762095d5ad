"""What an explanation returns: fidelity badges, reasons, explained items and lists.

Plain dataclasses, JSON-ready through ``asdict``, shared by every reason module, the
``Explainer``, the Explain page and the CLI's ``--json``; kept apart so the reason modules
depend on these types and not on the explainer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

EXACT = "exact"
RESCORED = "verified by re-scoring"
POST_HOC = "post hoc"
FIDELITIES = (EXACT, RESCORED, POST_HOC)

#: An *exact* badge allows |sum of parts − score| ≤ EXACT_TOLERANCE · max(1, |score|): the
#: parts are computed in float32 by the model, so bit-equality is too strict, but a gap
#: larger than this means the parts do not describe the score.
EXACT_TOLERANCE = 1e-4
#: A *verified by re-scoring* badge allows the attributions to miss the re-scored change by
#: RESCORE_TOLERANCE of that change (plus the exact tolerance, for changes near zero).
RESCORE_TOLERANCE = 0.05


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
        downgraded: why the check lowered the badge (None when it held).
    """

    kind: str
    title: str
    fidelity: str | None
    summary: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)
    downgraded: str | None = None


def follow_evidence(reason: Reason) -> Reason:
    """Let the reason's own check decide its badge, and say why when it lowers it.

    - *exact* with a residual: kept when residual ≤ EXACT_TOLERANCE · max(1, |score|),
      else *post hoc* (the parts only approximate the score).
    - *verified by re-scoring*: kept only when ``check["rescored"]`` is true (the model was
      asked again), ``check["verified"]`` is not false (the re-scored answer agreed)
      and, when the check compares attributions with the re-scored change,
      |sum of attributions − change| ≤ RESCORE_TOLERANCE · |change| + EXACT_TOLERANCE ·
      max(1, |score|); else *post hoc*.

    ``check["why_unverified"]`` says, in words, what the re-scoring could not confirm.
    Returns the same reason, updated in place (``fidelity`` and ``downgraded``).
    """
    c = reason.check
    why = None
    if reason.fidelity == EXACT and "residual" in c:
        score = float(c.get("score", 0.0))
        tol = EXACT_TOLERANCE * max(1.0, abs(score))
        residual = float(c["residual"])
        if not residual <= tol:  # also catches NaN
            why = (
                f"the parts add up to {float(c.get('sum_of_parts', float('nan'))):.4g}, not to "
                f"the score {score:.4g} (off by {residual:.2g}; the tolerance is {tol:.2g}), "
                "so they only approximate the score"
            )
    elif reason.fidelity == RESCORED:
        if not c.get("rescored") or c.get("verified") is False:
            why = str(c.get("why_unverified") or "the re-scoring did not confirm this reason")
        elif "score_minus_baseline" in c:
            change = float(c["score_minus_baseline"])
            total = float(c["sum_of_attributions"])
            tol = RESCORE_TOLERANCE * abs(change) + EXACT_TOLERANCE * max(
                1.0, abs(float(c.get("score", 0.0)))
            )
            if not abs(total - change) <= tol:
                why = (
                    f"re-scoring moved the score by {change:.4g} but the attributions add up "
                    f"to {total:.4g} (the tolerance is {tol:.2g}), so they only approximate it"
                )
    if why is not None:
        reason.fidelity = POST_HOC
        reason.downgraded = why
    return reason


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
    popularity_percentile: float  # % of catalogue items at most as popular (itself too)
    more_popular_than: float  # % of the other items strictly less popular, rounded down
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
        context: the event context the list was ranked in ({field: value or None}), or
            None for a model that takes no context.
    """

    model: str
    run_id: int | None
    user_id: str | None
    history: list[str]
    k: int
    items: list[ItemExplanation]
    seconds: float
    notes: list[str] = field(default_factory=list)
    context: dict[str, str | None] | None = None

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
