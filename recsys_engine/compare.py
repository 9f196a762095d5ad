"""Paired statistics between two runs on one split, and the leaderboard (DESIGN §6).

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

Segments (``user_segments``) come from the split's train fold: activity terciles (users
ranked by train interactions and cut into three equal groups), cold users (at most
``cold_max`` train interactions) vs the rest, and head vs long-tail users: the head is the
top 20% of items by train popularity, and a user is "mostly head" when at least half of
their test items are head items (otherwise "mostly long-tail").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys_engine.errors import ConfigError, RecsysError
from recsys_engine.models import REGISTRY, model_title
from recsys_engine.paired_stats import (
    TESTS,
    benjamini_hochberg,
    bootstrap_columns,
    cohens_dz,
    holm,
    minimum_detectable_effect,
    paired_bootstrap,
    paired_pvalue,
)
from recsys_engine.segments import (
    SEGMENT_FAMILIES,
    _segment_order,
    list_overlap,
    user_segments,
)

TEST_LABELS = {
    "ttest": "paired t-test",
    "permutation": "sign-flip permutation test",
    "wilcoxon": "Wilcoxon signed-rank test",
}
VERDICTS = ("Better", "Worse", "Neutral", "Inconclusive")
ACCURACY = ("ndcg", "recall", "precision", "hitrate", "map", "mrr")
BEYOND = ("coverage", "novelty", "arp", "ild", "personalization")
#: Metrics where a lower value is the desirable direction (for "best" highlighting).
LOWER_IS_BETTER = ("arp",)
LABELS = {
    "ndcg": "NDCG",
    "recall": "Recall",
    "precision": "Precision",
    "hitrate": "Hit rate",
    "map": "MAP",
    "mrr": "MRR",
    "coverage": "Coverage",
    "novelty": "Novelty",
    "arp": "ARP",
    "ild": "ILD",
    "personalization": "Personalization",
}
MAX_CURVE_K = 50


# -- small statistics ---------------------------------------------------------------------
def metric_key(name: str, k: int) -> str:
    """``("ndcg", 10)`` → ``"ndcg@10"``."""
    return f"{name}@{int(k)}"


def parse_metric(key: str) -> tuple[str, int]:
    """``"ndcg@10"`` → ``("ndcg", 10)``; ``ConfigError`` naming the value otherwise."""
    name, _, k = str(key).strip().lower().partition("@")
    if not name or not k.isdigit() or int(k) < 1:
        raise ConfigError(f"metric must look like 'ndcg@10' (got {key!r})")
    return name, int(k)


def metric_label(key: str) -> str:
    """``"ndcg@10"`` → ``"NDCG@10"`` for people."""
    name, k = parse_metric(key)
    return f"{LABELS.get(name, name)}@{k}"


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


@dataclass
class Comparison:
    """Everything the A/B panel, the report and ``compare --json`` show."""

    run_a: dict[str, Any]
    run_b: dict[str, Any]
    options: CompareOptions
    primary: MetricComparison
    secondary: list[MetricComparison]
    guardrails: list[Guardrail]
    verdict: str
    sentence: str
    segments: pd.DataFrame
    per_user: pd.DataFrame
    overlap: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def metrics_table(self) -> pd.DataFrame:
        """Primary and secondary metrics, one row each, for tables and the report."""
        rows = [{"role": "primary", **asdict(self.primary)}]
        rows += [{"role": "secondary", **asdict(s)} for s in self.secondary]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` document)."""
        opts = asdict(self.options)
        opts["secondary"] = list(self.options.secondary)
        opts["guardrails"] = list(self.options.guardrails)
        ov = self.overlap
        return _clean(
            {
                "run_a": self.run_a,
                "run_b": self.run_b,
                "options": opts,
                "verdict": self.verdict,
                "sentence": self.sentence,
                "primary": asdict(self.primary),
                "secondary": [asdict(s) for s in self.secondary],
                "guardrails": [asdict(g) for g in self.guardrails],
                "segments": self.segments.to_dict(orient="records"),
                "overlap": {
                    "users": int(len(ov)),
                    "jaccard_mean": float(ov["jaccard"].mean()) if len(ov) else None,
                    "rbo_mean": float(ov["rbo"].mean()) if len(ov) else None,
                },
                "notes": self.notes,
            }
        )


def _clean(value: Any) -> Any:
    """NaN/inf → None and numpy scalars → Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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


def _pct(x: float | None, signed: bool = True) -> str:
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
    ci = f"{level:.0%} CI {_pct(r.rel_ci_low)} to {_pct(r.rel_ci_high)}"
    users = f"{r.n:,} users"
    bar = f"{threshold:.0%}".replace(".0%", "%")
    if verdict_ == "Better":
        text = (
            f"{name_b} raises {r.label} by {_pct(r.rel_change, False)} over {name_a} "
            f"({ci}, {users}) — a real improvement above the {bar} bar"
        )
    elif verdict_ == "Worse":
        text = (
            f"{name_b} lowers {r.label} by {_pct(r.rel_change, False)} compared with {name_a} "
            f"({ci}, {users}) — a real decline"
        )
    elif verdict_ == "Neutral":
        text = (
            f"{name_b} and {name_a} perform the same on {r.label}: the change is "
            f"{_pct(r.rel_change)} ({ci}, {users}), inside the ±{bar} that matters"
        )
    else:
        mde = _pct(r.mde_rel, False) if np.isfinite(r.mde_rel) else f"{r.mde:.4f}"
        text = (
            f"Not enough evidence yet: {name_b} changes {r.label} by {_pct(r.rel_change)} "
            f"against {name_a} ({ci}, {users}); with this many users only changes of about "
            f"{mde} or more can be detected reliably"
        )
    falls = [
        f"{g.label} falls {_pct(g.rel_change, False)}" for g in guardrails if g.status == "breached"
    ]
    if falls:
        rails = "guardrail" if len(falls) == 1 else "guardrails"
        text += f"; {' and '.join(falls)} — check the {rails}"
    return text + "."


# -- runs and the store -------------------------------------------------------------------
def run_label(run: dict[str, Any]) -> str:
    """``EASE (run 3)``-style name of a run for sentences and charts."""
    return f"{model_title(run['model'])} (run {run['id']})"


def _run_info(store: Any, run_id: int) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run["status"] != "succeeded":
        raise RecsysError(
            f"run {run_id} ({model_title(run['model'])}) is {run['status']}; "
            "only succeeded runs can be compared"
        )
    spec = REGISTRY.get(run["model"])
    return {
        "id": int(run["id"]),
        "model": run["model"],
        "label": run_label(run),
        "split_id": int(run["split_id"]),
        "dataset_id": int(run["dataset_id"]),
        "reference": bool(spec is not None and spec.family == "reference"),
        "positive_threshold": (run["options"] or {}).get("positive_threshold"),
        "fit_seconds": run["fit_seconds"],
    }


def check_comparable(store: Any, run_a: int, run_b: int) -> tuple[dict, dict]:
    """Both runs' info, or a ``RecsysError`` saying why they cannot be compared."""
    a, b = _run_info(store, run_a), _run_info(store, run_b)
    if a["split_id"] != b["split_id"]:
        raise RecsysError(
            f"run {a['id']} is on split {a['split_id']} and run {b['id']} on split "
            f"{b['split_id']}: only runs on the same split test the same users on the same "
            "held-out items; train both models on one split"
        )
    if a["positive_threshold"] != b["positive_threshold"]:
        raise RecsysError(
            f"runs {a['id']} and {b['id']} count different ratings as relevant "
            f"(positive threshold {a['positive_threshold']} vs {b['positive_threshold']})"
        )
    return a, b


def paired_frame(store: Any, run_a: int, run_b: int, metric: str) -> pd.DataFrame:
    """Per-user values of one metric in both runs: user_id, a, b, diff (inner join)."""
    name, k = parse_metric(metric)
    fa = store.user_metrics_frame(run_a, name, k)
    fb = store.user_metrics_frame(run_b, name, k)
    for run, frame in ((run_a, fa), (run_b, fb)):
        if frame.empty:
            stored = sorted(store.user_metrics_frame(run)["k"].dropna().astype(int).unique())
            raise RecsysError(
                f"run {run} has no per-user {metric_label(metric)} (stored cut-offs: "
                f"{', '.join(map(str, stored)) or 'none'}); pick one of those or re-evaluate "
                f"the run with K={k} among its cut-offs"
            )
    out = fa[["user_id", "value"]].merge(
        fb[["user_id", "value"]], on="user_id", suffixes=("_a", "_b")
    )
    out = out.rename(columns={"value_a": "a", "value_b": "b"})
    out["diff"] = out["b"] - out["a"]
    return out.reset_index(drop=True)


def _global_value(store: Any, run_id: int, metric: str) -> float | None:
    name, k = parse_metric(metric)
    rows = store.run_metrics(run_id)
    hit = rows[(rows["metric"] == name) & (rows["k"] == k)]
    if hit.empty or pd.isna(hit["value"].iloc[0]):
        return None
    return float(hit["value"].iloc[0])


def guardrail_checks(store: Any, a: int, b: int, options: CompareOptions) -> list[Guardrail]:
    """Relative change of each guardrail metric's stored mean; breached past the margin."""
    out = []
    for g in options.guardrails:
        va, vb = _global_value(store, a, g), _global_value(store, b, g)
        if va is None or vb is None or va == 0:
            out.append(Guardrail(g, metric_label(g), va, vb, None, "unavailable"))
            continue
        rel = (vb - va) / abs(va)
        status = "breached" if rel < -options.guardrail_margin else "ok"
        out.append(Guardrail(g, metric_label(g), va, vb, rel, status))
    return out


def segment_table(
    paired: pd.DataFrame, segments: pd.DataFrame, options: CompareOptions
) -> pd.DataFrame:
    """Primary-metric statistics per segment (one bootstrap pass for all of them),
    Benjamini–Hochberg-adjusted across all segments."""
    data = paired.merge(segments, on="user_id", how="left")
    groups = []
    for col, family in SEGMENT_FAMILIES.items():
        labels = data[col].to_numpy()
        for label in sorted(pd.unique(labels[pd.notna(labels)]), key=_segment_order):
            sel = labels == label
            if sel.sum() >= 2:
                groups.append((family, label, sel))
    if not groups:
        return pd.DataFrame()
    a, b = data["a"].to_numpy(dtype=float), data["b"].to_numpy(dtype=float)
    masks = np.column_stack([g[2] for g in groups])
    boot = bootstrap_columns(
        np.repeat(a[:, None], len(groups), axis=1),
        np.repeat(b[:, None], len(groups), axis=1),
        masks,
        options.n_resamples,
        options.seed,
        options.level,
    )
    rows = []
    for j, (family, label, sel) in enumerate(groups):
        one = {key: value[j] for key, value in boot.items()}
        r = compare_values(a[sel], b[sel], options.primary, options, one)
        rows.append(
            {
                "family": family,
                "segment": label,
                "users": r.n,
                "mean_a": r.mean_a,
                "mean_b": r.mean_b,
                "diff": r.diff,
                "rel_change": r.rel_change,
                "rel_ci_low": r.rel_ci_low,
                "rel_ci_high": r.rel_ci_high,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_value": r.p_value,
                "wins": r.wins,
                "ties": r.ties,
                "losses": r.losses,
            }
        )
    out = pd.DataFrame(rows)
    out["p_bh"] = benjamini_hochberg(out["p_value"].to_numpy())
    return out


def compare_runs(
    store: Any, run_a: int, run_b: int, options: CompareOptions | None = None
) -> Comparison:
    """Compare candidate B against baseline A on one split (the A/B panel and ``compare``).

    Raises:
        RecsysError: the runs are not succeeded, on different splits, or lack a metric.
    """
    opts = options or CompareOptions()
    a, b = check_comparable(store, run_a, run_b)
    paired = paired_frame(store, a["id"], b["id"], opts.primary)
    per_user = paired.copy()
    metrics = (opts.primary, *opts.secondary)
    for metric in opts.secondary:
        frame = paired_frame(store, a["id"], b["id"], metric)
        per_user = per_user.merge(
            frame.rename(columns={"a": f"{metric} A", "b": f"{metric} B", "diff": f"{metric} B-A"}),
            on="user_id",
            how="left",
        )
    per_user = per_user.rename(
        columns={"a": f"{opts.primary} A", "b": f"{opts.primary} B", "diff": f"{opts.primary} B-A"}
    )
    va = per_user[[f"{x} A" for x in metrics]].to_numpy(dtype=float)
    vb = per_user[[f"{x} B" for x in metrics]].to_numpy(dtype=float)
    present = np.isfinite(va) & np.isfinite(vb)
    boot = bootstrap_columns(va, vb, present, opts.n_resamples, opts.seed, opts.level)
    results = []
    for j, metric in enumerate(metrics):
        sel = present[:, j]
        one = {key: value[j] for key, value in boot.items()}
        results.append(compare_values(va[sel, j], vb[sel, j], metric, opts, one))
    primary, secondary = results[0], results[1:]
    for s, p in zip(secondary, holm([s.p_value for s in secondary]), strict=True):
        s.p_adjusted = float(p)
    guards = guardrail_checks(store, a["id"], b["id"], opts)
    segments = user_segments(
        store, a["split_id"], opts.cold_max, opts.head_fraction, a["positive_threshold"]
    )
    seg_table = segment_table(paired, segments, opts)
    per_user = segments.merge(per_user, on="user_id", how="right")
    overlap = list_overlap(
        store.recommendations_frame(a["id"]), store.recommendations_frame(b["id"]), opts.k
    )
    per_user = per_user.merge(
        overlap.rename(columns={"jaccard": f"jaccard@{opts.k}", "rbo": f"rbo@{opts.k}"}),
        on="user_id",
        how="left",
    )
    v = verdict(primary, opts.threshold, opts.alpha)
    sentence = plain_sentence(
        primary, v, a["label"], b["label"], guards, opts.threshold, opts.level
    )
    notes = []
    if a["id"] == b["id"]:
        notes.append("A and B are the same run: every difference is zero by construction.")
    if primary.ties > 0.5 * primary.n:
        notes.append(
            f"{primary.ties:,} of {primary.n:,} users score the same under both models "
            "(often 0 for both); they count as ties."
        )
    return Comparison(
        a, b, opts, primary, secondary, guards, v, sentence, seg_table, per_user, overlap, notes
    )


# -- leaderboard and curves ---------------------------------------------------------------


def segment_caveats(comparison: Comparison, threshold: float = 0.01) -> list[str]:
    """Plain warnings for segments where B does not follow the overall verdict.

    When the verdict is Better (Worse), every segment whose relative change points the
    other way by at least ``threshold`` gets one sentence: "worse" when its CI excludes
    zero, "no clear gain" otherwise. A stakeholder switching models sees who would lose.
    """
    if comparison.verdict not in ("Better", "Worse") or comparison.segments.empty:
        return []
    sign = 1.0 if comparison.verdict == "Better" else -1.0
    label = comparison.primary.label
    out = []
    for row in comparison.segments.itertuples(index=False):
        rel = row.rel_change
        if rel is None or not np.isfinite(rel) or sign * rel > -threshold:
            continue
        clear = (row.rel_ci_high < 0) if sign > 0 else (row.rel_ci_low > 0)
        what = "does worse" if clear else "shows no clear gain"
        if sign < 0:
            what = "does better" if clear else "shows no clear loss"
        out.append(
            f"{row.segment} ({int(row.users):,} users): B {what} on {label} "
            f"({_pct(rel)}, 95% CI {_pct(row.rel_ci_low)} to {_pct(row.rel_ci_high)})."
        )
    return out
