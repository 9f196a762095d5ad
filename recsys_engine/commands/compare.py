"""CLI: ``compare`` (the A/B comparison of two runs on one split, optional HTML/CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys_engine.commands.common import add_json_flag, emit
from recsys_engine.errors import RecsysError
from recsys_engine.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``compare``."""
    p = sub.add_parser("compare", help="A/B comparison of two runs on one split")
    p.add_argument("run_a", help="baseline run id (A)")
    p.add_argument("run_b", help="candidate run id (B)")
    p.add_argument("--primary", default="ndcg@10", help="decision metric (default ndcg@10)")
    p.add_argument(
        "--secondary", default=None, help="comma-separated, e.g. recall@10,mrr@10 (Holm-adjusted)"
    )
    p.add_argument(
        "--test", choices=("ttest", "permutation", "wilcoxon"), default="ttest", help="p-value"
    )
    p.add_argument("--threshold", type=float, default=0.01, help="relative change that matters")
    p.add_argument(
        "--guardrail-margin", type=float, default=0.10, help="largest tolerated guardrail drop"
    )
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", default=None, help="also write the HTML report to this file")
    p.add_argument("--csv", default=None, help="also write the per-user differences (CSV)")
    add_json_flag(p)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace, store: Store) -> int:
    """Compare two runs (A baseline, B candidate); optionally write the HTML report and
    the per-user differences."""
    from recsys_engine.compare import CompareOptions, compare_runs
    from recsys_engine.compare.report import html_report, per_user_csv

    secondary = None
    if args.secondary is not None:
        secondary = tuple(s.strip() for s in args.secondary.split(",") if s.strip())
    options = CompareOptions(
        primary=args.primary,
        secondary=secondary,
        test=args.test,
        threshold=args.threshold,
        guardrail_margin=args.guardrail_margin,
        n_resamples=args.resamples,
        seed=args.seed,
    )
    result = compare_runs(
        store, store.resolve_run(args.run_a), store.resolve_run(args.run_b), options
    )
    payload = result.to_dict()
    for flag, data in (
        ("report", lambda: html_report(result).encode("utf-8")),
        ("csv", lambda: per_user_csv(result)),
    ):
        path = getattr(args, flag)
        if path:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_bytes(data())
            except OSError as exc:
                raise RecsysError(f"cannot write '{path}': {exc.strerror or exc}") from None
            payload[f"{flag}_path"] = str(path)
    decision = result.decision
    lines = [f"Decision: {decision.sentence}", f"  {decision.detectable}"]
    lines.append(f"{result.verdict}: {result.sentence}")
    for r in [result.primary, *result.secondary]:
        lines.append(
            f"  {r.label:<14} A {r.mean_a:.4f}  B {r.mean_b:.4f}  "
            f"change {r.rel_change * 100:+.1f}% "
            f"[{r.rel_ci_low * 100:+.1f}%, {r.rel_ci_high * 100:+.1f}%]  p {r.p_value:.3g}"
        )
    for g in result.guardrails:
        change = "n/a" if g.rel_change is None else f"{g.rel_change * 100:+.1f}%"
        lines.append(f"  guardrail {g.label:<14} {change}  {g.status}")
    emit(args, payload, "\n".join(lines))
    return 0
