"""What to do after an A/B comparison, in words a business owner can act on (DESIGN §6).

``decide`` turns a ``Comparison`` into one of four decisions:

- ``switch`` — *Switch to B*: the primary metric's CI lies above zero, p < alpha and the
  relative change reaches the practical threshold (verdict Better); no guardrail dropped
  past its margin and no segment goes reliably the other way.
- ``trade_off`` — *Trade-off*: B is Better on the primary metric but a guardrail dropped
  past its margin, or a segment does reliably worse (its CI lies below zero and its
  Benjamini–Hochberg p < alpha). The decision names what B wins, what it loses and for whom
  (users, share of the test users).
- ``no_difference`` — *No meaningful difference*: the CI of the relative change lies inside
  ±threshold (verdict Neutral) and nothing else counts against B; choose on cost, judged on
  what the runs record: training time when one is clearly shorter (``clearly_cheaper``),
  then whether a model is a simple reference model.
- ``keep`` — *Keep A*: everything else. B is reliably worse, or B did not show the gain that
  matters (verdict Inconclusive: an offline test set is fixed, so keeping what works is the
  default), or B is no better and breaks a guardrail or loses a segment.

Every decision also says what this test set can and cannot detect: the smallest detectable
change (MDE ≈ 2.8 · sd(d) / √n, ``compare.stats``). Every sentence is built from the numbers
of the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys_engine.compare.names import plain_label, plain_title
from recsys_engine.compare.verdict import pct

if TYPE_CHECKING:
    from recsys_engine.compare.pair import Comparison

KINDS = ("switch", "keep", "no_difference", "trade_off")


@dataclass(frozen=True)
class Decision:
    """The decision of an A/B comparison.

    Attributes:
        kind: one of ``KINDS`` (machine-readable).
        headline: what to do, e.g. ``"Keep EASE (run 2)"``.
        reasons: why, one plain sentence each, most important first.
        detectable: what this test set can and cannot detect.
    """

    kind: str
    headline: str
    reasons: tuple[str, ...]
    detectable: str

    @property
    def sentence(self) -> str:
        """Headline and reasons as one paragraph (CLI, JSON, report)."""
        return " ".join([f"{self.headline}.", *self.reasons])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: kind, headline, sentence, reasons and detectable."""
        return {
            "kind": self.kind,
            "headline": self.headline,
            "sentence": self.sentence,
            "reasons": list(self.reasons),
            "detectable": self.detectable,
        }


def _bar(x: float) -> str:
    """A threshold as a short percentage (0.01 → ``1%``, 0.025 → ``2.5%``)."""
    return f"{x:.1%}".replace(".0%", "%")


def _ci(low: float, high: float, level: float) -> str:
    return f"{level:.0%} confidence range {pct(low)} to {pct(high)}"


def _share(users: int, total: int) -> str:
    return f"{users:,} of {total:,} test users, {users / total:.0%}" if total else f"{users:,}"


def reliable_segments(comparison: Comparison, direction: int) -> list[dict[str, Any]]:
    """Segments where B is reliably worse (``direction=-1``) or better (``+1``) than A on
    the primary metric: the segment's CI excludes zero on that side and its
    Benjamini–Hochberg-adjusted p-value is below alpha. Largest segment first."""
    seg = comparison.segments
    if seg is None or seg.empty:
        return []
    alpha = comparison.options.alpha
    side = seg["ci_high"] < 0 if direction < 0 else seg["ci_low"] > 0
    hit = seg[side & (seg["p_bh"] < alpha)]
    return hit.sort_values("users", ascending=False).to_dict(orient="records")


def _segment_sentence(row: dict[str, Any], comparison: Comparison, word: str) -> str:
    c = comparison
    return (
        f"{row['segment']} ({_share(int(row['users']), c.primary.n)}) do reliably {word} "
        f"with {c.run_b['label']}: {plain_label(c.primary.metric)} "
        f"{pct(row['rel_change'])} ({_ci(row['rel_ci_low'], row['rel_ci_high'], c.options.level)})."
    )


def _guardrail_sentence(g: Any, comparison: Comparison) -> str:
    return (
        f"{plain_title(g.metric)} falls "
        f"{pct(g.rel_change, False)} with {comparison.run_b['label']} "
        f"({g.value_a:.4g} → {g.value_b:.4g}), more than the "
        f"{_bar(comparison.options.guardrail_margin)} drop allowed."
    )


def _primary_sentence(comparison: Comparison, status: str) -> str:
    c = comparison
    p, o = c.primary, c.options
    a, b = c.run_a["label"], c.run_b["label"]
    what = plain_label(p.metric)
    ci = _ci(p.rel_ci_low, p.rel_ci_high, o.level)
    bar = _bar(o.threshold)
    if status == "better":
        return (
            f"{b} raises {what} by {pct(p.rel_change, False)} over {a} ({ci}), "
            f"above the {bar} that matters."
        )
    if status == "worse":
        return f"{b} lowers {what} by {pct(p.rel_change, False)} against {a} ({ci})."
    if status == "same":
        return (
            f"{b} and {a} are within {bar} of each other on {what}: the change is "
            f"{pct(p.rel_change)} ({ci})."
        )
    if np.isfinite(p.rel_ci_low) and p.rel_ci_low > 0:
        why = f"the gain is real but could be below the {bar} that matters"
    else:
        why = "that range includes no change at all"
    return (
        f"{b} did not show the {bar} gain that matters on {what}: the change is "
        f"{pct(p.rel_change)} ({ci}), and {why}."
    )


def _detectable(comparison: Comparison) -> str:
    p = comparison.primary
    if p.all_tied:
        return (
            f"Both runs give each of these {p.n:,} test users exactly the same "
            f"{plain_label(p.metric)}: this test set shows no difference between them to "
            "measure."
        )
    size = pct(p.mde_rel, False) if np.isfinite(p.mde_rel) else f"{p.mde:.4f} (absolute)"
    return (
        f"With these {p.n:,} test users, this comparison reliably detects changes in "
        f"{plain_label(p.metric)} of about {size} or more; a true difference smaller than "
        f"{size} can go unseen on this fixed test set."
    )


def _cost(comparison: Comparison) -> tuple[str | None, str]:
    """(the cheaper run's label or None, the sentence saying how that was judged)."""
    a, b = comparison.run_a, comparison.run_b
    fa, fb = a.get("fit_seconds"), b.get("fit_seconds")
    known = fa is not None and fb is not None and np.isfinite(fa) and np.isfinite(fb)
    cheaper = None
    parts = []
    if known:
        parts.append(f"{a['label']} trained in {fa:.1f} s and {b['label']} in {fb:.1f} s")
        if clearly_cheaper(fa, fb):
            cheaper = a if fa < fb else b
        else:
            parts[-1] += (
                " (too close to call either cheaper: the same training varies that much "
                "from run to run)"
            )
    ref_a, ref_b = bool(a.get("reference")), bool(b.get("reference"))
    if ref_a != ref_b:
        simple = a if ref_a else b
        parts.append(f"{simple['label']} is a simple reference model")
        if cheaper is None:
            cheaper = simple
    if not parts:
        return None, (
            f"The runs record no training time for {a['label']} or {b['label']} and both are "
            "the same kind of model, so choose the one that is simpler for you to operate."
        )
    basis = "training time and model type as recorded with each run"
    if cheaper is None:
        return None, f"{'; '.join(parts)}: neither is clearly cheaper (judged on {basis})."
    return cheaper["label"], (
        f"{'; '.join(parts)}, so {cheaper['label']} is cheaper to run (judged on {basis})."
    )


#: a training time counts as cheaper only when the other takes this much longer, both
#: relatively and in seconds: the same run timed twice on a shared machine differs by
#: tenths of a second and by 10–30% (BENCHMARKS.md)
CHEAPER_RATIO, CHEAPER_SECONDS = 1.5, 1.0


def clearly_cheaper(seconds_a: float, seconds_b: float) -> bool:
    """Whether one training time is clearly below the other: the longer one at least
    ``CHEAPER_RATIO`` times the shorter and ``CHEAPER_SECONDS`` longer."""
    low, high = sorted((float(seconds_a), float(seconds_b)))
    return high - low >= CHEAPER_SECONDS and high >= CHEAPER_RATIO * low


def decide(comparison: Comparison) -> Decision:
    """The decision of an A/B comparison (rules in the module docstring)."""
    c = comparison
    p, o = c.primary, c.options
    a, b = c.run_a["label"], c.run_b["label"]
    if c.verdict == "Better":
        status = "better"
    elif c.verdict == "Worse" or (p.ci_high < 0 and p.p_value < o.alpha):
        status = "worse"
    elif c.verdict == "Neutral":
        status = "same"
    else:
        status = "unclear"
    breached = [g for g in c.guardrails if g.status == "breached"]
    losing = reliable_segments(c, -1)
    winning = reliable_segments(c, +1)
    reasons = [_primary_sentence(c, status)]
    reasons += [_guardrail_sentence(g, c) for g in breached]
    if status != "worse":  # when B is worse overall, its losing segments add nothing
        reasons += [_segment_sentence(s, c, "worse") for s in losing]
    if status != "better":
        reasons += [_segment_sentence(s, c, "better") for s in winning]
    unavailable = [plain_label(g.metric) for g in c.guardrails if g.status == "unavailable"]
    if unavailable:
        reasons.append(f"Not checked, no stored value: {', '.join(unavailable)}.")
    what = plain_label(p.metric)
    if status == "better" and not breached and not losing:
        kind, headline = "switch", f"Switch to {b}"
    elif status == "better":
        losses = [plain_label(g.metric) for g in breached]
        losses += [f"{what} for {s['segment']} ({_share(int(s['users']), p.n)})" for s in losing]
        kind = "trade_off"
        headline = f"Trade-off: {b} wins on {what}, loses on {' and '.join(losses)}"
        reasons.append(
            f"Switch to {b} only if the gain in {what} is worth "
            f"{'these losses' if len(losses) > 1 else 'this loss'}; otherwise keep {a}."
        )
    elif status == "same" and not breached and not losing:
        cheaper, cost = _cost(c)
        kind = "no_difference"
        headline = "No meaningful difference — choose on cost" + (
            f": {cheaper} is cheaper" if cheaper else " and simplicity"
        )
        reasons.append(cost)
    else:
        kind, headline = "keep", f"Keep {a}"
        if status == "unclear":
            reasons.append(f"Without a proven gain, switching from {a} to {b} is not justified.")
    return Decision(kind, headline, tuple(reasons), _detectable(c))
