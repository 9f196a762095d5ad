"""Comparing two stored runs on one split: the A/B panel's data (DESIGN §6).

``compare_runs`` pairs both runs' per-user metrics, computes the statistics of
``recsys_engine.compare.verdict`` for the primary and secondary metrics (one shared
bootstrap), checks guardrails, and adds segments (``recsys_engine.compare.segments``), list
overlap and plain notes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_engine.compare.decision import Decision, decide
from recsys_engine.compare.fairness import budget_note
from recsys_engine.compare.names import metric_label, parse_metric
from recsys_engine.compare.options import CompareOptions
from recsys_engine.compare.overlap import list_overlap
from recsys_engine.compare.segments import segment_table, user_segments
from recsys_engine.compare.stats import bootstrap_columns, holm
from recsys_engine.compare.verdict import (
    Guardrail,
    MetricComparison,
    compare_values,
    pct,
    plain_sentence,
    verdict,
)
from recsys_engine.errors import RecsysError
from recsys_engine.models import REGISTRY, model_title

if TYPE_CHECKING:
    from recsys_engine.store import Store


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
    #: a plain note when A and B had very different tuning budgets (``compare.fairness``)
    fairness: str | None = None

    @property
    def decision(self) -> Decision:
        """What to do: switch, keep, no difference or trade-off (``compare.decision``)."""
        return decide(self)

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
                "decision": self.decision.to_dict(),
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
                "fairness": self.fairness,
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


# -- runs and the store -------------------------------------------------------------------
def run_label(run: dict[str, Any]) -> str:
    """``EASE (run 3)``-style name of a run for sentences and charts."""
    return f"{model_title(run['model'])} (run {run['id']})"


def run_info(store: Store, run_id: int) -> dict[str, Any]:
    """A succeeded run's id, model, label, split and dataset (ids and names), reference
    flag, positive threshold and fit time; a ``RecsysError`` for a run that has not
    succeeded."""
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
        "split_name": str(store.get_split(int(run["split_id"]))["name"]),
        "dataset_name": str(store.get_dataset(int(run["dataset_id"]))["name"]),
        "reference": bool(spec is not None and spec.family == "reference"),
        "positive_threshold": (run["options"] or {}).get("positive_threshold"),
        "fit_seconds": run["fit_seconds"],
        "tuning": run.get("tuning"),  # None: trained with given settings
        # runs evaluated before test users were scored from train + validation say nothing
        "test_history": (run.get("eval_info") or {}).get("test_history", "train"),
    }


def check_comparable(store: Store, run_a: int, run_b: int) -> tuple[dict, dict]:
    """Both runs' info, or a ``RecsysError`` saying why they cannot be compared."""
    a, b = run_info(store, run_a), run_info(store, run_b)
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
    if a["test_history"] != b["test_history"]:
        old = a if a["test_history"] == "train" else b
        raise RecsysError(
            f"run {old['id']} was evaluated by an earlier version that scored test users "
            "from their training fold only (the other run also used their validation "
            f"events); re-evaluate it first: python -m recsys_engine evaluate {old['id']}"
        )
    return a, b


def paired_frame(store: Store, run_a: int, run_b: int, metric: str) -> pd.DataFrame:
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


def _global_value(store: Store, run_id: int, metric: str) -> float | None:
    name, k = parse_metric(metric)
    rows = store.run_metrics(run_id)
    hit = rows[(rows["metric"] == name) & (rows["k"] == k)]
    if hit.empty or pd.isna(hit["value"].iloc[0]):
        return None
    return float(hit["value"].iloc[0])


def guardrail_checks(store: Store, a: int, b: int, options: CompareOptions) -> list[Guardrail]:
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


def _ties_note(primary: MetricComparison, va: np.ndarray, vb: np.ndarray) -> str:
    """The note on users who score the same under both runs, saying how many of them
    score 0 under both (users for whom neither list finds a held-out item)."""
    both_zero = int(((va == 0) & (vb == 0)).sum())
    if primary.all_tied:
        head = f"All {primary.n:,} users score the same under both models"
    else:
        head = f"{primary.ties:,} of {primary.n:,} users score the same under both models"
    zero = f"{both_zero:,} of them score 0 under both" if both_zero else "none of them scores 0"
    return f"{head} ({zero}); they count as ties."


def compare_runs(
    store: Store, run_a: int, run_b: int, options: CompareOptions | None = None
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
        notes.append(_ties_note(primary, va[:, 0], vb[:, 0]))
    return Comparison(
        a,
        b,
        opts,
        primary,
        secondary,
        guards,
        v,
        sentence,
        seg_table,
        per_user,
        overlap,
        notes,
        fairness=budget_note(a, b, v),
    )


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
    name_b = comparison.run_b["label"]
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
            f"{row.segment} ({int(row.users):,} users): {name_b} {what} on {label} "
            f"({pct(rel)}, 95% CI {pct(row.rel_ci_low)} to {pct(row.rel_ci_high)})."
        )
    return out
