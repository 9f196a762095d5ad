"""The A/B decision on one metric: paired statistics, verdict and sentence (DESIGN §6).

``compare_values`` gathers the paired statistics of ``recsys_engine.compare.stats`` (formulas
in its module docstring) for one metric; ``verdict`` turns them into Better / Worse /
Neutral / Inconclusive on the primary metric, and ``plain_sentence`` says it in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_engine.compare.names import metric_label
from recsys_engine.compare.options import CompareOptions
from recsys_engine.compare.stats import (
    cohens_dz,
    minimum_detectable_effect,
    paired_bootstrap,
    paired_pvalue,
)
from recsys_engine.errors import RecsysError

VERDICTS = ("Better", "Worse", "Neutral", "Inconclusive")


@dataclass
class MetricComparison:
    """One metric, B against A, over the paired users (formulas in ``compare.stats``)."""

    metric: str
    label: str
    n: int
    mean_a: float
    mean_b: float
    diff: float
    rel_change: float
    ci_low: float
    ci_high: float
    rel_ci_low: float
    rel_ci_high: float
    p_value: float
    p_adjusted: float | None
    wins: int
    ties: int
    losses: int
    effect_size: float
    mde: float
    mde_rel: float

    @property
    def all_tied(self) -> bool:
        """Whether every user scores the same under A and B: no spread, so no change is
        measurable (a detectable size would read 0)."""
        return self.ties == self.n


@dataclass
class Guardrail:
    """A metric that must not fall by more than the margin (relative, point estimate)."""

    metric: str
    label: str
    value_a: float | None
    value_b: float | None
    rel_change: float | None
    status: str  # "ok", "breached" or "unavailable"


def compare_values(
    a: np.ndarray,
    b: np.ndarray,
    metric: str,
    options: CompareOptions,
    boot: dict[str, float] | None = None,
) -> MetricComparison:
    """All paired statistics of one metric from aligned per-user values of A and B.

    ``boot`` passes bootstrap CIs computed beforehand (``bootstrap_columns``), so several
    metrics or segments share one set of resamples.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = len(a)
    if n == 0:
        raise RecsysError(f"no test user has {metric_label(metric)} in both runs")
    d = b - a
    mean_a, mean_b = float(a.mean()), float(b.mean())
    diff = mean_b - mean_a
    rel = diff / mean_a if mean_a != 0 else (0.0 if diff == 0 else float("nan"))
    if boot is None:
        boot = paired_bootstrap(a, b, options.n_resamples, options.seed, options.level)
    boot = {key: float(value) for key, value in boot.items()}
    if mean_a == 0 and diff == 0 and boot["ci_low"] == boot["ci_high"] == 0:
        boot["rel_ci_low"] = boot["rel_ci_high"] = 0.0
    mde = minimum_detectable_effect(d)
    return MetricComparison(
        metric=metric,
        label=metric_label(metric),
        n=n,
        mean_a=mean_a,
        mean_b=mean_b,
        diff=diff,
        rel_change=rel,
        p_value=paired_pvalue(a, b, options.test, options.n_permutations, options.seed),
        p_adjusted=None,
        wins=int((d > 0).sum()),
        ties=int((d == 0).sum()),
        losses=int((d < 0).sum()),
        effect_size=cohens_dz(d),
        mde=mde,
        mde_rel=mde / mean_a if mean_a else float("nan"),
        **boot,
    )


def verdict(result: MetricComparison, threshold: float = 0.01, alpha: float = 0.05) -> str:
    """Better / Worse / Neutral / Inconclusive for a metric comparison.

    - **Better**: the CI of the difference lies entirely above 0, p < alpha, and the
      relative change is at least ``threshold``; **Worse** symmetrically.
    - **Neutral**: the CI of the relative change lies inside ±threshold (no difference
      that matters), or every user scored exactly the same.
    - **Inconclusive** otherwise (the MDE says how large a change the data could detect).
    When mean(A) = 0 a relative change is undefined and the absolute CI decides.
    """
    r = result
    if r.ci_low == r.ci_high == 0 and r.diff == 0:
        return "Neutral"
    rel_ok = np.isfinite(r.rel_change)
    significant = r.p_value < alpha
    if r.ci_low > 0 and significant and (not rel_ok or r.rel_change >= threshold):
        return "Better"
    if r.ci_high < 0 and significant and (not rel_ok or r.rel_change <= -threshold):
        return "Worse"
    if (
        np.isfinite(r.rel_ci_low)
        and np.isfinite(r.rel_ci_high)
        and -threshold < r.rel_ci_low
        and r.rel_ci_high < threshold
    ):
        return "Neutral"
    return "Inconclusive"


def pct(x: float | None, signed: bool = True) -> str:
    """A fraction as a percentage for sentences (``+1.2%``, or ``1.2%`` unsigned)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x * 100:+.1f}%" if signed else f"{abs(x) * 100:.1f}%"


def plain_sentence(
    result: MetricComparison,
    verdict_: str,
    name_a: str,
    name_b: str,
    guardrails: list[Guardrail],
    threshold: float,
    level: float = 0.95,
) -> str:
    """One plain-language sentence stating the verdict (and any breached guardrail)."""
    r = result
    ci = f"{level:.0%} CI {pct(r.rel_ci_low)} to {pct(r.rel_ci_high)}"
    users = f"{r.n:,} users"
    bar = f"{threshold:.0%}".replace(".0%", "%")
    if verdict_ == "Better":
        text = (
            f"{name_b} raises {r.label} by {pct(r.rel_change, False)} over {name_a} "
            f"({ci}, {users}) — a real improvement above the {bar} bar"
        )
    elif verdict_ == "Worse":
        text = (
            f"{name_b} lowers {r.label} by {pct(r.rel_change, False)} compared with {name_a} "
            f"({ci}, {users}) — a real decline"
        )
    elif verdict_ == "Neutral":
        text = (
            f"{name_b} and {name_a} perform the same on {r.label}: the change is "
            f"{pct(r.rel_change)} ({ci}, {users}), inside the ±{bar} that matters"
        )
    else:
        mde = pct(r.mde_rel, False) if np.isfinite(r.mde_rel) else f"{r.mde:.4f}"
        text = (
            f"No clear difference on this test set: {name_b} changes {r.label} by "
            f"{pct(r.rel_change)} "
            f"against {name_a} ({ci}, {users}); with this many users only changes of about "
            f"{mde} or more can be detected reliably"
        )
    falls = [
        f"{g.label} falls {pct(g.rel_change, False)}" for g in guardrails if g.status == "breached"
    ]
    if falls:
        rails = "guardrail" if len(falls) == 1 else "guardrails"
        text += f"; {' and '.join(falls)} — check the {rails}"
    return text + "."
