"""How two runs are compared: the A/B options, validated once (DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass

from recsys_engine.compare.names import metric_key, parse_metric
from recsys_engine.compare.stats import TESTS
from recsys_engine.errors import ConfigError

TEST_LABELS = {
    "ttest": "paired t-test",
    "permutation": "sign-flip permutation test",
    "wilcoxon": "Wilcoxon signed-rank test",
}


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
