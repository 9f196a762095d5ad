"""The A/B decision on one metric: options, paired statistics, verdict and sentence (DESIGN §6).

Two runs on the same split score the same test users, so every comparison is **paired by
user**: for a metric@K each test user contributes d_u = B_u − A_u (``user_metrics`` rows;
a user a model could not score counts as 0 there, never dropped).

- Mean difference d̄ and relative change d̄ / Ā (Ā = mean of A over the paired users).
- 95% CI of both from a seeded **paired percentile bootstrap** over users: resample users
  with replacement (the same resample for A and B), recompute Ā*, B̄*, take the 2.5% and
  97.5% quantiles of B̄* − Ā* and B̄*/Ā* − 1. Vectorised: a chunk of resamples is a count
  matrix C (resamples × users) and the resampled means are C @ values / n.
- p-value: paired t-test (``scipy.stats.ttest_rel``, default), sign-flip permutation test
  on d̄ (p = (1 + #{|d̄*| ≥ |d̄|}) / (1 + P)), or Wilcoxon signed-rank
  (``scipy.stats.wilcoxon``, zero differences dropped). When every d_u = 0, p = 1.
- Holm across the secondary metrics; Benjamini–Hochberg across segments.
- Cohen's d_z = d̄ / sd(d); MDE ≈ 2.8 · sd(d) / √n (80% power at two-sided α = 0.05).
- Verdict on the primary metric (``verdict``): Better / Worse / Neutral / Inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_engine.errors import ConfigError, RecsysError
from recsys_engine.metric_names import metric_key, metric_label, parse_metric
from recsys_engine.paired_stats import (
    TESTS,
    cohens_dz,
    minimum_detectable_effect,
    paired_bootstrap,
    paired_pvalue,
)

TEST_LABELS = {
    "ttest": "paired t-test",
    "permutation": "sign-flip permutation test",
    "wilcoxon": "Wilcoxon signed-rank test",
}
VERDICTS = ("Better", "Worse", "Neutral", "Inconclusive")


@dataclass(frozen=True)
class CompareOptions:
    """How two runs are compared.

    Attributes:
        primary: the decision metric, e.g. ``"ndcg@10"``.
        secondary: other per-user metrics (Holm-adjusted); None → recall, hit rate and MRR
            at the primary K.
        guardrails: metrics that must not drop by more than ``guardrail_margin`` (relative);
            None → coverage and novelty at the primary K.
        test: ``"ttest"``, ``"permutation"`` or ``"wilcoxon"``.
        threshold: smallest relative change that matters (0.01 = 1%).
        guardrail_margin: largest tolerated relative drop of a guardrail (0.10 = 10%).
        alpha: significance level; confidence level is 1 − alpha.
        n_resamples / n_permutations: bootstrap resamples / sign flips.
        seed: random seed of both.
        cold_max: users with at most this many train interactions are "cold".
        head_fraction: share of most popular items that form the head.
    """

    primary: str = "ndcg@10"
    secondary: tuple[str, ...] | None = None
    guardrails: tuple[str, ...] | None = None
    test: str = "ttest"
    threshold: float = 0.01
    guardrail_margin: float = 0.10
    alpha: float = 0.05
    n_resamples: int = 10_000
    n_permutations: int = 10_000
    seed: int = 0
    cold_max: int = 5
    head_fraction: float = 0.2

    def __post_init__(self) -> None:
        name, k = parse_metric(self.primary)
        object.__setattr__(self, "primary", metric_key(name, k))
        sec = (
            tuple(metric_key(x, k) for x in ("recall", "hitrate", "mrr"))
            if self.secondary is None
            else tuple(metric_key(*parse_metric(s)) for s in self.secondary)
        )
        object.__setattr__(self, "secondary", tuple(s for s in sec if s != self.primary))
        guard = (
            (metric_key("coverage", k), metric_key("novelty", k))
            if self.guardrails is None
            else tuple(metric_key(*parse_metric(g)) for g in self.guardrails)
        )
        object.__setattr__(self, "guardrails", guard)
        if self.test not in TESTS:
            raise ConfigError(f"test must be one of {', '.join(TESTS)} (got {self.test!r})")
        for attr, lo, hi in (
            ("threshold", 0.0, 1.0),
            ("guardrail_margin", 0.0, 1.0),
            ("alpha", 1e-6, 0.5),
            ("head_fraction", 1e-6, 1.0),
        ):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{attr} must be a number (got {value!r})")
            if not lo <= value <= hi:
                raise ConfigError(f"{attr} must be between {lo:g} and {hi:g} (got {value!r})")
        for attr in ("n_resamples", "n_permutations", "cold_max", "seed"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{attr} must be a non-negative integer (got {value!r})")
        if self.n_resamples < 100 or self.n_permutations < 100:
            raise ConfigError(
                "n_resamples and n_permutations must be at least 100 "
                f"(got {self.n_resamples}, {self.n_permutations})"
            )

    @property
    def k(self) -> int:
        return parse_metric(self.primary)[1]

    @property
    def level(self) -> float:
        return 1.0 - self.alpha


@dataclass
class MetricComparison:
    """One metric, B against A, over the paired users (see the module docstring)."""

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
            f"Not enough evidence yet: {name_b} changes {r.label} by {pct(r.rel_change)} "
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
