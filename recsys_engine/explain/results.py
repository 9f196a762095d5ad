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
