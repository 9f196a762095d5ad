"""CLI: ``train``, ``runs``, ``evaluate`` and ``export`` (a run's life and its results)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from recsys_engine.commands.common import add_json_flag, emit, warn
from recsys_engine.errors import ConfigError, RecsysError
from recsys_engine.export import escape_formulas
from recsys_engine.store import Store

if TYPE_CHECKING:
    from recsys_engine.models.base import ProgressFn


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``train``, ``runs``, ``evaluate`` and ``export``."""
    from recsys_engine.models import list_models

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


# -- handlers -----------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace, store: Store) -> int:
    """Train and evaluate one model in the foreground; print its metrics (exit 1 unless
    the run succeeded)."""
    from recsys_engine.evaluation import EvalOptions
    from recsys_engine.runs import run_metric_dict, run_model

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


def cmd_runs(args: argparse.Namespace, store: Store) -> int:
    """List runs (of one dataset when given) with status, timings and ndcg@10."""
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
                "tuning": _tuning(row.tuning),
            }
        )
    lines = [
        f"{p['run_id']:>4}  {p['model']:<12} {p['status']:<11} split {p['split_id']:<4} "
        f"ndcg@10 {'-' if p['ndcg@10'] is None else format(p['ndcg@10'], '.4f')}"
        for p in payload
    ]
    emit(args, {"runs": payload}, "\n".join(lines) or "no runs")
    return 0


def cmd_evaluate(args: argparse.Namespace, store: Store) -> int:
    """Re-evaluate a finished run from its saved model, at other cut-offs if given."""
    from recsys_engine.runs import evaluate_run, run_metric_dict

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


def cmd_export(args: argparse.Namespace, store: Store) -> int:
    """Write one result table of a run, or the rows of a split, to CSV or Parquet."""
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


def _tuning(value: Any) -> dict[str, Any] | None:
    """A run's stored tuning budget (None: trained with a given config, not tuned)."""
    return json.loads(value) if isinstance(value, str) and value else None


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def terminal_progress() -> ProgressFn | None:
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
