"""CLI: split, splits, train, runs, evaluate, export (DESIGN §8)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_engine.commands.common import add_json_flag, emit, warn
from recsys_engine.errors import ConfigError, RecsysError
from recsys_engine.export import escape_formulas

#: Leading characters that make a spreadsheet treat a cell as a formula.


def register(sub: argparse._SubParsersAction) -> None:
    """Register the evaluation sub-commands."""
    from recsys_engine.models import list_models
    from recsys_engine.splits import STRATEGIES

    p = sub.add_parser("split", help="split a dataset into train/validation/test")
    p.add_argument("dataset", help="dataset id or name")
    p.add_argument("--strategy", choices=STRATEGIES, default="random")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--validation-fraction", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--min-interactions", type=int, default=2)
    p.add_argument("--n-last", type=int, default=1, help="leave-last: test items per user")
    p.add_argument(
        "--validation-last", type=int, default=0, help="leave-last: validation items per user"
    )
    p.add_argument("--cut-date", default=None, help="temporal: ISO date of the test cut")
    p.add_argument("--name", default=None, help="split name (default from the parameters)")
    add_json_flag(p)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("splits", help="list splits")
    p.add_argument("dataset", nargs="?", default=None)
    add_json_flag(p)
    p.set_defaults(func=cmd_splits)

    names = ", ".join(s.name for s in list_models())
    p = sub.add_parser("train", help="train and evaluate a model on a split")
    p.add_argument("dataset", help="dataset id or name")
    p.add_argument("--split", required=True, help="split id or name")
    p.add_argument("--model", required=True, help=f"registry name: {names}")
    p.add_argument("--config", default=None, help="model config as a JSON object")
    p.add_argument("--k", default=None, help="cut-offs, e.g. 5,10,20")
    p.add_argument(
        "--positive-threshold",
        type=float,
        default=None,
        help="ratings >= this count as positive (train and test)",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("runs", help="list runs")
    p.add_argument("dataset", nargs="?", default=None)
    add_json_flag(p)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("evaluate", help="(re-)evaluate a run at other cut-offs")
    p.add_argument("run", help="run id")
    p.add_argument("--k", default=None, help="cut-offs, e.g. 5,10,20")
    add_json_flag(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export run results or a split to CSV or Parquet")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", default=None)
    src.add_argument("--split", default=None, help="split id")
    p.add_argument(
        "--what",
        choices=("recommendations", "metrics", "user-metrics"),
        default=None,
        help="with --run: which table",
    )
    p.add_argument("--out", required=True, help="file ending in .csv or .parquet")
    add_json_flag(p)
    p.set_defaults(func=cmd_export)

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


# -- handlers -----------------------------------------------------------------------------
def cmd_split(args: argparse.Namespace, store: Any) -> int:
    from recsys_engine.splits import SplitConfig, create_split, preview_split

    config = SplitConfig(
        strategy=args.strategy,
        test_fraction=args.test_fraction,
        validation_fraction=args.validation_fraction,
        min_interactions=args.min_interactions,
        seed=args.seed,
        cut_date=args.cut_date,
        n_last=args.n_last,
        validation_last=args.validation_last,
    )
    did = store.resolve_dataset(args.dataset)
    preview = preview_split(store, did, config)
    split_id = create_split(store, did, config, name=args.name, preview=preview)
    split = store.get_split(split_id)
    for w in split["stats"]["warnings"]:
        warn(w)
    st = split["stats"]
    text = (
        f"split {split_id} '{split['name']}' ({config.strategy}, seed {config.seed}): "
        f"train {st['train_rows']}, validation {st['validation_rows']}, test {st['test_rows']} "
        f"rows; {st['test_users']} test users ({st['test_users_unseen']} unseen in train), "
        f"{st['test_items']} test items ({st['test_items_unseen']} unseen in train)"
    )
    emit(
        args,
        {
            "split_id": split_id,
            "name": split["name"],
            "dataset_id": did,
            "strategy": config.strategy,
            "seed": config.seed,
            "params": split["params"],
            "stats": st,
        },
        text,
    )
    return 0


def cmd_splits(args: argparse.Namespace, store: Any) -> int:
    did = None if args.dataset is None else store.resolve_dataset(args.dataset)
    frame = store.list_splits(did)
    payload = []
    for row in frame.itertuples(index=False):
        payload.append(
            {
                "split_id": int(row.id),
                "dataset_id": int(row.dataset_id),
                "name": row.name,
                "strategy": row.strategy,
                "seed": row.seed,
                "params": json.loads(row.params),
                "stats": json.loads(row.stats),
                "runs": int(row.n_runs),
            }
        )
    lines = [
        f"{p['split_id']:>4}  {p['name']}  ({p['strategy']}, dataset {p['dataset_id']}, "
        f"{p['stats']['test_users']} test users, {p['runs']} runs)"
        for p in payload
    ]
    emit(args, {"splits": payload}, "\n".join(lines) or "no splits")
    return 0


def cmd_train(args: argparse.Namespace, store: Any) -> int:
    from recsys_engine.evaluation import EvalOptions, run_metric_dict, run_model

    did = store.resolve_dataset(args.dataset)
    split_id = store.resolve_split(args.split, did)
    config = _parse_config(args.config)
    opts: dict[str, Any] = {"positive_threshold": args.positive_threshold}
    if args.k:
        opts["ks"] = parse_ks(args.k)
    options = EvalOptions.from_dict(opts)
    try:
        run_id = run_model(
            store, split_id, args.model, config, options=options, on_progress=terminal_progress()
        )
    except RecsysError:
        raise
    except Exception as exc:  # the run row records it; the shell gets one line
        raise RecsysError(f"training failed: {type(exc).__name__}: {exc}") from exc
    run = store.get_run(run_id)
    metrics = run_metric_dict(store, run_id)
    info = run["eval_info"]
    if info.get("unscorable_users"):
        warn(
            f"{info['unscorable_users']} of {info['test_users']} test users could not be "
            "scored (counted as 0)"
        )
    payload = {
        "run_id": run_id,
        "status": run["status"],
        "model": run["model"],
        "config": run["config"],
        "split_id": split_id,
        "dataset_id": did,
        "fit_seconds": run["fit_seconds"],
        "eval_seconds": run["eval_seconds"],
        "metrics": metrics,
        "info": info,
    }
    if run["status"] != "succeeded":
        raise RecsysError(f"run {run_id} {run['status']}: {run['error']}")
    emit(args, payload, _metrics_text(f"run {run_id} ({args.model}) succeeded", metrics))
    return 0


def cmd_runs(args: argparse.Namespace, store: Any) -> int:
    did = None if args.dataset is None else store.resolve_dataset(args.dataset)
    frame = store.list_runs(did)
    payload = []
    for row in frame.itertuples(index=False):
        payload.append(
            {
                "run_id": int(row.id),
                "dataset_id": int(row.dataset_id),
                "split_id": int(row.split_id),
                "split": row.split,
                "model": row.model,
                "status": row.status,
                "config": json.loads(row.config),
                "fit_seconds": _num(row.fit_seconds),
                "eval_seconds": _num(row.eval_seconds),
                "ndcg@10": _num(row.ndcg_10),
                "error": None if pd.isna(row.error) else row.error,
            }
        )
    lines = [
        f"{p['run_id']:>4}  {p['model']:<12} {p['status']:<11} split {p['split_id']:<4} "
        f"ndcg@10 {'-' if p['ndcg@10'] is None else format(p['ndcg@10'], '.4f')}"
        for p in payload
    ]
    emit(args, {"runs": payload}, "\n".join(lines) or "no runs")
    return 0


def cmd_evaluate(args: argparse.Namespace, store: Any) -> int:
    from recsys_engine.evaluation import evaluate_run, run_metric_dict

    run_id = store.resolve_run(args.run)
    ks = parse_ks(args.k) if args.k else None
    result = evaluate_run(store, run_id, ks)
    metrics = run_metric_dict(store, run_id)
    emit(
        args,
        {"run_id": run_id, "metrics": metrics, "info": result.info},
        _metrics_text(f"run {run_id} evaluated", metrics),
    )
    return 0


def cmd_export(args: argparse.Namespace, store: Any) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ConfigError(f"--out must end in .csv or .parquet (got '{out}')")
    if args.run is not None:
        if args.what is None:
            raise ConfigError(
                "--what is required with --run (recommendations, metrics, user-metrics)"
            )
        run_id = store.resolve_run(args.run)
        frame = {
            "recommendations": store.recommendations_frame,
            "metrics": store.run_metrics,
            "user-metrics": store.user_metrics_frame,
        }[args.what](run_id)
    else:
        if args.what is not None:
            raise ConfigError("--what only applies with --run")
        frame = store.split_rows_frame(store.resolve_split(args.split))
    write_table(frame, out)
    emit(args, {"path": str(out), "rows": len(frame)}, f"wrote {len(frame)} rows to {out}")
    return 0


def cmd_compare(args: argparse.Namespace, store: Any) -> int:
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
    lines = [f"{result.verdict}: {result.sentence}"]
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


# -- helpers ------------------------------------------------------------------------------
def parse_ks(text: str) -> tuple[int, ...]:
    """``"5,10,20"`` → (5, 10, 20); ``ConfigError`` naming the bad value otherwise."""
    try:
        ks = tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--k must be comma-separated integers (got {text!r})") from None
    if not ks or min(ks) < 1:
        raise ConfigError(f"--k must be positive integers (got {text!r})")
    return ks


def write_table(frame: pd.DataFrame, out: Path) -> None:
    """Write CSV (formula-escaped) or Parquet, by extension."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if out.suffix.lower() == ".csv":
            escape_formulas(frame).to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
    except OSError as exc:
        raise RecsysError(f"cannot write '{out}': {exc.strerror or exc}") from None


def _parse_config(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--config is not valid JSON ({exc.msg}): {text!r}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"--config must be a JSON object (got {text!r})")
    return config


def _metrics_text(head: str, metrics: dict[str, float | None]) -> str:
    keys = [
        k
        for k in metrics
        if k.split("@")[0] in ("ndcg", "recall", "precision", "map", "mrr", "hitrate", "coverage")
    ]
    body = "  ".join(
        f"{k} {'-' if metrics[k] is None else format(metrics[k], '.4f')}" for k in keys
    )
    return f"{head}\n{body}"


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def terminal_progress() -> Any:
    """A progress bar on stderr when it is a terminal (silent in scripts and tests)."""
    import sys

    if not sys.stderr.isatty():
        return None
    state = {"stage": None}

    def show(done: int, total: int, info: dict[str, Any]) -> None:
        stage = info.get("stage", "fit")
        if state["stage"] not in (None, stage):
            sys.stderr.write("\n")
        state["stage"] = stage
        frac = done / total if total else 0.0
        bar = "#" * int(30 * frac)
        detail = info.get("detail") or {}
        loss = detail.get("loss") if isinstance(detail, dict) else None
        extra = f" loss {loss:.4f}" if isinstance(loss, float) else ""
        sys.stderr.write(f"\r{stage:<8} [{bar:<30}] {done}/{total}{extra}   ")
        if done >= total and stage == "evaluate":
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
