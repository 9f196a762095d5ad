"""Paired statistics for A/B comparisons of runs: seeded bootstrap, paired tests, multiple-
testing corrections, effect size and minimum detectable effect.

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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
from scipy import stats

from recsys_engine.errors import ConfigError

TESTS = ("ttest", "permutation", "wilcoxon")
CHUNK_ELEMENTS = 2_000_000  # resample-count cells held at once (16 MB of float64)


def resample_counts(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield count matrices (chunk × n) of bootstrap resamples of n users, seeded.

    Row r holds how often each user is drawn in resample r (rows sum to n). Chunks keep
    at most ``CHUNK_ELEMENTS`` cells in memory.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, CHUNK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        draws = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(float)
        done += size


def bootstrap_means(values: np.ndarray, n_resamples: int = 10_000, seed: int = 0) -> np.ndarray:
    """Means of bootstrap resamples of the rows of ``values``.

    Args:
        values: n × c (or n): c columns resampled with the *same* row draws, so paired
            columns (A and B of one user) stay together.
        n_resamples: number of resamples.
        seed: random seed (same seed → same draws).

    Returns:
        n_resamples × c (or n_resamples) resampled column means.
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ndim == 1
    x2 = x[:, None] if flat else x
    n = x2.shape[0]
    if n == 0:
        raise ConfigError("cannot bootstrap zero users")
    parts = [counts @ x2 / n for counts in resample_counts(n, n_resamples, seed)]
    out = np.vstack(parts)
    return out[:, 0] if flat else out


def bootstrap_columns(
    a: np.ndarray,
    b: np.ndarray,
    mask: np.ndarray | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, np.ndarray]:
    """Paired percentile-bootstrap CIs for several columns from ONE set of user resamples.

    Column j compares ``b[:, j]`` with ``a[:, j]`` over the users where ``mask[:, j]``
    (a metric, or a segment of users). Each resample draws all n users with replacement;
    column j's resampled means are over the drawn users in its mask (for a segment its
    size varies between resamples, as it does between experiments).

    Returns:
        arrays (one value per column): ``ci_low``/``ci_high`` of mean(B) − mean(A) and
        ``rel_ci_low``/``rel_ci_high`` of mean(B)/mean(A) − 1.
    """
    a2 = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b2 = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    n, c = a2.shape
    if n == 0:
        raise ConfigError("cannot bootstrap zero users")
    mk = np.ones((n, c), dtype=bool) if mask is None else np.asarray(mask).reshape(n, c)
    values = np.hstack([np.where(mk, a2, 0.0), np.where(mk, b2, 0.0), mk.astype(np.float64)])
    diffs, rels = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for counts in resample_counts(n, n_resamples, seed):
            sums = counts @ values
            mean_a = sums[:, :c] / sums[:, 2 * c :]
            mean_b = sums[:, c : 2 * c] / sums[:, 2 * c :]
            diffs.append(mean_b - mean_a)
            rels.append(mean_b / mean_a - 1.0)
    diff, rel = np.vstack(diffs), np.vstack(rels)
    tail = (1.0 - level) / 2.0
    q = [tail, 1.0 - tail]
    lo, hi = np.nanquantile(diff, q, axis=0)
    # a resample where mean(A) = 0 has no relative change; more than the tail of them
    # and the relative interval is undefined
    bad = (~np.isfinite(rel)).mean(axis=0) > tail / 2
    rel = np.where(np.isfinite(rel), rel, np.nan)
    rlo = np.full(c, np.nan)
    rhi = np.full(c, np.nan)
    # a column whose mean(A) is 0 in every resample (A scores no user of a segment) has no
    # relative interval at all: skipped, not handed to nanquantile (which warns on it)
    some = ~bad & np.isfinite(rel).any(axis=0)
    if some.any():
        rlo[some], rhi[some] = np.nanquantile(rel[:, some], q, axis=0)
    return {"ci_low": lo, "ci_high": hi, "rel_ci_low": rlo, "rel_ci_high": rhi}


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, n_resamples: int = 10_000, seed: int = 0, level: float = 0.95
) -> dict[str, float]:
    """Percentile-bootstrap CIs of the mean difference B − A and of the relative change
    (one metric; see ``bootstrap_columns``)."""
    out = bootstrap_columns(a, b, None, n_resamples, seed, level)
    return {key: float(value[0]) for key, value in out.items()}


def sign_flip_pvalue(
    diffs: np.ndarray, n_permutations: int = 10_000, seed: int = 0
) -> float | np.ndarray:
    """Two-sided sign-flip permutation p-value of mean(d) = 0 for paired differences.

    Under H0 each d_u is symmetric around 0, so flipping signs at random gives the null
    distribution of the mean. p = (1 + #{|mean*| ≥ |mean|}) / (1 + P).

    Args:
        diffs: n (one experiment) or n × m (m experiments sharing the sign draws).
    """
    d = np.asarray(diffs, dtype=np.float64)
    flat = d.ndim == 1
    d2 = d[:, None] if flat else d
    n = d2.shape[0]
    observed = np.abs(d2.mean(axis=0))
    tol = 1e-12 * np.maximum(1.0, observed)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_permutations, CHUNK_ELEMENTS // max(n, 1)))
    extreme = np.zeros(d2.shape[1])
    done = 0
    while done < n_permutations:
        size = min(chunk, n_permutations - done)
        signs = rng.integers(0, 2, size=(size, n)) * 2.0 - 1.0
        extreme += (np.abs(signs @ d2 / n) >= observed - tol).sum(axis=0)
        done += size
    p = (1.0 + extreme) / (1.0 + n_permutations)
    return float(p[0]) if flat else p


def paired_pvalue(
    a: np.ndarray, b: np.ndarray, test: str = "ttest", n_permutations: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value of "no difference" between paired samples (see module docstring)."""
    if test not in TESTS:
        raise ConfigError(f"test must be one of {', '.join(TESTS)} (got {test!r})")
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if len(d) < 2 or np.all(d == 0):
        return 1.0
    if test == "permutation":
        return sign_flip_pvalue(d, n_permutations, seed)
    if test == "wilcoxon":
        return float(stats.wilcoxon(b, a).pvalue)
    if np.std(d) == 0:  # every user moved by the same non-zero amount
        return 0.0
    return float(stats.ttest_rel(b, a).pvalue)


def _finite_adjusted(
    pvalues: npt.ArrayLike, adjust: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Apply ``adjust`` (finite p-values → adjusted) to the finite entries; NaNs stay NaN
    and do not count in m."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = adjust(p[ok])
    return out


def _holm_finite(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p, kind="stable")
    m = len(order)
    out = np.empty(m)
    out[order] = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    return out


def holm(pvalues: npt.ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values (as statsmodels ``multipletests(method="holm")``).

    With p sorted ascending, p̃_(i) = max_{j≤i} min(1, (m − j + 1) · p_(j)). NaNs stay NaN
    and do not count in m. (SciPy has no Holm adjustment.)
    """
    return _finite_adjusted(pvalues, _holm_finite)


def benjamini_hochberg(pvalues: npt.ArrayLike) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (``scipy.stats.false_discovery_control``).

    With p sorted ascending, p̃_(i) = min_{j≥i} min(1, m/j · p_(j)). NaNs stay NaN.
    """
    return _finite_adjusted(pvalues, lambda p: stats.false_discovery_control(p, method="bh"))


def cohens_dz(diffs: np.ndarray) -> float:
    """Effect size of paired differences: mean(d) / sd(d) (0 when all d are 0)."""
    d = np.asarray(diffs, dtype=np.float64)
    if len(d) < 2:
        return float("nan")
    sd = float(d.std(ddof=1))
    if sd == 0:
        return 0.0 if d.mean() == 0 else math.copysign(math.inf, d.mean())
    return float(d.mean() / sd)


def minimum_detectable_effect(diffs: np.ndarray) -> float:
    """MDE ≈ 2.8 · sd(d) / √n: the absolute change detectable with 80% power at α = 0.05."""
    d = np.asarray(diffs, dtype=np.float64)
    if len(d) < 2:
        return float("nan")
    return 2.8 * float(d.std(ddof=1)) / math.sqrt(len(d))

