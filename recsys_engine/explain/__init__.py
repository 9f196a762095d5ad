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

Layout (one concept per module; this file only re-exports the public API):

- ``results`` — the fidelity badges, the rule that lets each reason's check decide its
  badge (``follow_evidence``: a residual above tolerance or a failed re-score lowers it to
  *post hoc* and says why), and the returned dataclasses.
- ``catalogue`` — the split's items and users: ids, titles, categories, lookups.
- ``context`` — popularity percentile and similar users of a listed item.
- ``history`` — reason 1, "because you interacted with".
- ``content`` and ``taste`` — reason 2, content-tower and category attributions.
- ``breakdown`` — reason 3, the model's own additive score parts.
- ``counterfactual`` — reason 4, "what would change it".
- ``event_context`` — for context-aware models (issue 18), what the context of the event
  did to each listed item, re-scored against the neutral context; ``InContext`` keeps the
  other reasons in the same context.
- ``explainer`` — the ``Explainer`` that builds the list and orchestrates the reasons.
- ``lists`` — comparing two top-K lists.
- ``wording`` — how names are joined in the plain-sentence summaries.
"""

from __future__ import annotations

from recsys_engine.explain.counterfactual import MAX_REMOVALS
from recsys_engine.explain.explainer import Explainer
from recsys_engine.explain.lists import compare_lists, overlap
from recsys_engine.explain.results import (
    EXACT,
    EXACT_TOLERANCE,
    FIDELITIES,
    POST_HOC,
    RESCORE_TOLERANCE,
    RESCORED,
    ItemExplanation,
    Reason,
    Recommendations,
    follow_evidence,
)
from recsys_engine.explain.taste import MAX_CATEGORIES

__all__ = [
    "EXACT",
    "EXACT_TOLERANCE",
    "FIDELITIES",
    "MAX_CATEGORIES",
    "MAX_REMOVALS",
    "POST_HOC",
    "RESCORED",
    "RESCORE_TOLERANCE",
    "Explainer",
    "ItemExplanation",
    "Reason",
    "Recommendations",
    "compare_lists",
    "follow_evidence",
    "overlap",
]
