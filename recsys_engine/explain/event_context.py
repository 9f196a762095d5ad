"""What the context of the event contributed (issue 18), verified by re-scoring.

A context-aware model (``uses_context``) scores a history *in a context* — device,
hour, weekday, ... of the event it predicts. Its contribution to one listed item is found
by asking the model again with the **neutral context** (every field unknown, code 0, which
adds nothing to the user tower) and comparing: the score change, and the item's rank
among the same candidates with and without the context ("on Sat at 17:00 this item rises
12 places"). Both ranks come from re-scoring the whole catalogue, so the badge is
*verified by re-scoring*.

``InContext`` lets the other reasons (history, breakdown, counterfactual) re-score in the
same context: its ``explain`` adds the context's share to the base and to the parts, so the
parts still add up to the listed score.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys_engine.explain.results import RESCORED, Reason
from recsys_engine.models.base import Explanation, Recommender
from recsys_engine.models.event_context import ContextVocab


def describe_context(context: dict[str, str | None]) -> str:
    """Plain words for a context: "device mobile, hour 17:00, Sat" (unknown fields left
    out; "no context" when every field is unknown)."""
    parts = []
    for name, value in context.items():
        if value is None:
            continue
        if name == "hour":
            parts.append(f"at {value}:00")
        elif name == "weekday":
            parts.append(f"on {value}")
        else:
            parts.append(f"{name} {value}")
    return ", ".join(parts) if parts else "no context"


class InContext:
    """``model`` (or an ``InOrder`` view of it) seen in one event's context codes.

    Every other attribute is the wrapped model's own.
    """

    def __init__(self, model: Any, codes: np.ndarray):
        self.model = model
        self.codes = np.asarray(codes, dtype=np.int32).ravel()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def _base_model(self) -> Recommender:
        m = self.model
        while not isinstance(m, Recommender):
            m = m.model
        return m

    def _recency(self, histories: sp.csr_matrix) -> sp.csr_matrix | None:
        return self.model.recency(histories) if hasattr(self.model, "recency") else None

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        h = sp.csr_matrix(histories)
        codes = np.broadcast_to(self.codes, (h.shape[0], len(self.codes)))
        return self._base_model().score_in_context(h, self._recency(h), codes, items)

    def explain(self, history: sp.csr_matrix, item: int) -> Explanation:
        """The wrapped model's explanation with the context's share (score in context −
        neutral score, re-scored) added to ``base``, ``score`` and ``parts["context"]``."""
        ex = self.model.explain(history, item)
        part = float(self.score(history[:1], np.array([int(item)]))[0, 0]) - float(
            self.model.score(history[:1], np.array([int(item)]))[0, 0]
        )
        parts = dict(getattr(ex, "parts", {}) or {})
        changes: dict[str, Any] = {"base": ex.base + part, "score": ex.score + part}
        if parts:
            parts["context"] = part
            changes["parts"] = parts
        return replace(ex, **changes)


@dataclass(frozen=True)
class ContextEffect:
    """The context's effect on one item of a list (ranks are 1-based, among the same
    candidates: the catalogue minus the excluded items).

    Attributes:
        item: internal item index.
        context: the event's context as {field: value or None}.
        score / neutral_score: the model's score in the context and in the neutral one.
        rank / neutral_rank: the item's rank in each.
    """

    item: int
    context: dict[str, str | None]
    score: float
    neutral_score: float
    rank: int
    neutral_rank: int

    @property
    def contribution(self) -> float:
        """Score in the context minus the neutral score."""
        return self.score - self.neutral_score

    @property
    def rank_change(self) -> int:
        """Places gained thanks to the context (negative = places lost)."""
        return self.neutral_rank - self.rank

    def sentence(self) -> str:
        """ "In this context (…) this item rises 12 places (from 15th to 3rd)"."""
        where = describe_context(self.context)
        n = abs(self.rank_change)
        places = f"{n} place{'s' if n != 1 else ''}"
        if self.rank_change > 0:
            move = f"rises {places} (from #{self.neutral_rank} to #{self.rank})"
        elif self.rank_change < 0:
            move = f"falls {places} (from #{self.neutral_rank} to #{self.rank})"
        else:
            move = f"keeps its place (#{self.rank})"
        return (
            f"In this context ({where}) this item {move} compared with no context; "
            f"the context adds {self.contribution:+.3g} to its score."
        )


def ranks_of(scores: np.ndarray, exclude: np.ndarray, items: np.ndarray) -> np.ndarray:
    """1-based rank of each of ``items`` in one score row, excluded items left out, ties
    broken by item index (as ``top_k`` orders a list)."""
    s = np.array(scores, dtype=np.float64).ravel()
    s[np.asarray(exclude, dtype=np.int64)] = -np.inf
    order = np.lexsort((np.arange(len(s)), -s))
    position = np.empty(len(s), dtype=np.int64)
    position[order] = np.arange(1, len(s) + 1)
    return position[np.asarray(items, dtype=np.int64)]


def context_effects(
    model: Any,
    history: sp.csr_matrix,
    exclude: sp.csr_matrix,
    items: np.ndarray,
    codes: np.ndarray,
    vocab: ContextVocab,
) -> list[ContextEffect]:
    """The context's effect on each of ``items`` for one history, by re-scoring the
    whole catalogue in the context ``codes`` and in the neutral context.

    Args:
        model: a context-aware model (``uses_context``), or an ``InOrder`` view of one.
        history: the 1 × n_items history.
        exclude: 1 × n_items items left out of the ranking (the seen ones).
        items: internal indexes of the listed items.
        codes: the event's context codes (fields,).
        vocab: the model's context vocabulary (for the wording).
    """
    h = sp.csr_matrix(history, dtype=np.float32)[:1]
    codes = np.asarray(codes, dtype=np.int32).ravel()
    in_ctx = InContext(model, codes).score(h)[0]
    neutral = InContext(model, vocab.neutral()[0]).score(h)[0]
    excluded = sp.csr_matrix(exclude)[:1].indices
    items = np.asarray(items, dtype=np.int64)
    rank = ranks_of(in_ctx, excluded, items)
    rank0 = ranks_of(neutral, excluded, items)
    context = vocab.decode(codes)
    return [
        ContextEffect(
            item=int(i),
            context=context,
            score=float(in_ctx[i]),
            neutral_score=float(neutral[i]),
            rank=int(r),
            neutral_rank=int(r0),
        )
        for i, r, r0 in zip(items, rank, rank0, strict=True)
    ]


def context_reason(effect: ContextEffect) -> Reason:
    """The "context of this event" reason of one item (*verified by re-scoring*)."""
    rows = [
        {"context": "this event", "score": effect.score, "rank": effect.rank},
        {
            "context": "no context (neutral)",
            "score": effect.neutral_score,
            "rank": effect.neutral_rank,
        },
    ]
    return Reason(
        "context",
        "The context of this moment",
        RESCORED,
        effect.sentence(),
        rows,
        check={
            "method": "re-scored the catalogue with the neutral context",
            "rescored": True,
            "verified": True,
            "rank_change": effect.rank_change,
            "contribution": effect.contribution,
        },
    )
