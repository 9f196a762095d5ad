"""Comparing runs offline (DESIGN §6): which model should we use, and is B really better?

Two views of the runs on one split: a **leaderboard** of every succeeded run (with metric@K
curves), and an **A/B comparison** of a candidate B against a baseline A, paired user by
user, with a verdict (Better / Worse / Neutral / Inconclusive), a plain sentence, guardrails,
segments and list overlap; exported as a self-contained HTML report and a per-user CSV.

Layout (one idea per module; imports flow down this list, never up):

- ``names`` — metric keys such as ``"ndcg@10"``, their parts and the labels people read.
- ``stats`` — paired statistics: bootstrap, paired tests, Holm / Benjamini–Hochberg,
  effect size, minimum detectable effect (the formulas are in its docstring).
- ``options`` — ``CompareOptions``: how two runs are compared, validated once.
- ``verdict`` — one metric's paired statistics, the verdict and its plain sentence.
- ``segments`` — user segments of a split and the primary metric within each.
- ``decision`` — what to do: switch to B, keep A, no meaningful difference, or trade-off.
- ``overlap`` — how alike two runs' top-K lists are (Jaccard@K, rank-biased overlap).
- ``pair`` — ``compare_runs``: the comparison of two stored runs, and ``run_info``.
- ``leaderboard`` — the succeeded runs of a split, best first.
- ``curves`` — metric@K curves rebuilt from stored recommendations.
- ``tables`` — the DataFrames the Compare page and the report both show.
- ``charts`` — plotly figures of the page and the report.
- ``report`` — the HTML report and the per-user CSV.

This file re-exports the public API of the A/B comparison and the curves. ``leaderboard``
is imported as a module (its main function has the module's name, which a re-export here
would shadow); ``tables``, ``charts`` and ``report`` too, so that importing the package
does not load plotly.
"""

from __future__ import annotations

from recsys_engine.compare.curves import metric_curves
from recsys_engine.compare.decision import KINDS, Decision, decide
from recsys_engine.compare.options import TEST_LABELS, CompareOptions
from recsys_engine.compare.pair import Comparison, compare_runs, run_info, segment_caveats
from recsys_engine.compare.stats import TESTS
from recsys_engine.compare.verdict import VERDICTS, Guardrail, MetricComparison

__all__ = [
    "KINDS",
    "TESTS",
    "TEST_LABELS",
    "VERDICTS",
    "CompareOptions",
    "Comparison",
    "Decision",
    "Guardrail",
    "MetricComparison",
    "compare_runs",
    "decide",
    "metric_curves",
    "run_info",
    "segment_caveats",
]
