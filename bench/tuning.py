"""Tuning benchmark (issue 15): every model tuned with the same budget, evaluated once on test.

Protocol: random per-user split, 20% test and 10% validation, seed 42, every rating a
positive. Each model is tuned on the validation fold only (``recsys_engine.tuning.tune``,
same trial budget for all, the median pruner stopping weak Keras trials on their
per-epoch validation NDCG@10), its best config trained as a run and evaluated once on test;
the default config is trained on the same split as the reference. Printed per dataset and
model: test NDCG@10 with its 95% CI, tuned and default, the study's wall time, trials/s,
how many trials were pruned and the load average around the study.

Datasets are loaded the way the app loads a folder (``ingest.guess_plan`` +
``load_dataset``), so Hybrid gets the content a user would get: titles, genres and tags of
the MovieLens files, and for the Amazon reviews the review text of the training fold.
Data is read from ../shared/data (never copied); missing datasets are skipped.

Goals (BENCHMARKS.md): the best tuned Keras model ≥ tuned EASE on at least two of the three
datasets; every tuned model ≥ its default run, or within the CI.

``--split cold-items`` (issue 14, new arrivals) holds out 20% of the items for test and 10%
for validation instead: the study still maximises validation NDCG@10, and each row also
carries the test new-arrivals shelf Recall@20 of the tuned and the default run beside a
random shelf's (min(20, m) / m for m new items), the goal being ≥ 10× random.

    .venv/bin/python bench/tuning.py [--datasets ml-100k,amazon,ml-latest-small]
        [--models ease,itemknn,two_tower,hybrid,neumf] [--trials 30] [--workers 1]
        [--split random|cold-items]
        [--out rows.jsonl]            # one JSON line per finished model, written at once
    .venv/bin/python bench/tuning.py --report rows.jsonl [more.jsonl ...]

``--out`` appends each model's row as soon as it is measured, so a long run split over
several processes (one dataset or model group each) keeps what it finished; ``--report``
prints the side-by-side table and the goals from such files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

from recsys_engine.ingest import guess_plan, load_dataset  # noqa: E402
from recsys_engine.runs import run_model  # noqa: E402
from recsys_engine.shelf import new_arrivals  # noqa: E402
from recsys_engine.split_data import load_split_data  # noqa: E402
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402
from recsys_engine.tuning import tune  # noqa: E402

DATASETS = ("ml-100k", "amazon", "ml-latest-small")
MODELS = ("ease", "itemknn", "two_tower", "hybrid", "neumf")
KERAS = ("two_tower", "hybrid", "neumf")
FOLDERS = {
    "ml-latest-small": "ml-latest-small",
    "ml-100k": "ml-100k",
    "amazon": "amazon-musical-instruments-5core",
}


def load(store: Store, name: str) -> int | None:
    """Load a dataset folder as the app would; its id, or None when it is not there."""
    folder = FOLDERS.get(name)
    if folder is None:
        raise SystemExit(f"unknown dataset {name}; known: {', '.join(DATASETS)}")
    path = DATA / folder
    if not path.is_dir():
        return None
    plan = guess_plan(sorted(p for p in path.iterdir() if p.is_file()), name=name, store=store)
    return load_dataset(store, plan).dataset_id


def ndcg(store: Store, run_id: int, metric: str = "ndcg", k: int = 10) -> list[float | None]:
    """A run's test ``metric@k`` (NDCG@10 by default) with its CI: [value, low, high]."""
    run = store.get_run(run_id)
    if run["status"] != "succeeded":
        raise SystemExit(f"run {run_id} ({run['model']}) {run['status']}: {run['error']}")
    rows = store.run_metrics(run_id)
    row = rows[(rows.metric == metric) & (rows.k == k)].iloc[0]
    low = None if row.ci_low is None else float(row.ci_low)
    high = None if row.ci_high is None else float(row.ci_high)
    return [float(row.value), low, high]


def bench_model(store: Store, split: int, name: str, model: str, trials: int, workers: int):
    """Tune one model, test its best config, train its defaults: one result row."""
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = tune(store, split, model, trials=trials, workers=workers, seed=42)
    seconds = time.perf_counter() - t0
    load1 = os.getloadavg()[0]
    t1 = time.perf_counter()
    default_run = run_model(store, split, model)
    default_s = time.perf_counter() - t1
    shelf = {}
    if "shelf_recall" in set(store.run_metrics(result.run_id).metric):
        m = len(new_arrivals(load_split_data(store, split)))
        shelf = {
            "tuned_shelf_recall@20": ndcg(store, result.run_id, "shelf_recall", 20),
            "default_shelf_recall@20": ndcg(store, default_run, "shelf_recall", 20),
            "random_shelf_recall@20": min(20, m) / m,
        }
    return {
        "dataset": name,
        "model": model,
        "trials": len(result.trials),
        "complete": result.tuning["complete"],
        "pruned": result.tuning["pruned"],
        "failed": result.tuning["failed"],
        "best_trial": result.best_trial,
        "validation_ndcg@10": result.best_value,
        "best_config": result.best_config,
        "tuned": ndcg(store, result.run_id),
        "default": ndcg(store, default_run),
        **shelf,
        "study_s": seconds,
        "trials_per_s": len(result.trials) / seconds,
        "default_s": default_s,
        "load": [round(load0, 2), round(load1, 2)],
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def bench_dataset(
    store: Store,
    name: str,
    models: list[str],
    trials: int,
    workers: int,
    out: Path | None,
    strategy: str = "random",
) -> list[dict[str, Any]]:
    did = load(store, name)
    if did is None:
        print(f"{name}: not found under {DATA}, skipped")
        return []
    split = create_split(
        store,
        did,
        SplitConfig(strategy=strategy, seed=42, test_fraction=0.2, validation_fraction=0.1),
    )
    print(
        f"\n{name}: {store.get_dataset(did)['n_interactions']:,} interactions, "
        f"{strategy} split, {trials} trials per model",
        flush=True,
    )
    rows = []
    for model in models:
        row = bench_model(store, split, name, model, trials, workers)
        rows.append(row)
        if out is not None:
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    return rows


def _fmt(value: list[float | None]) -> str:
    mean, low, high = value
    if low is None or high is None:
        return f"{mean:.4f}"
    return f"{mean:.4f} [{low:.4f}, {high:.4f}]"


def report(rows: list[dict[str, Any]]) -> None:
    """Side-by-side table per dataset and the two goals."""
    for name in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == name]
        print(f"\n{name}")
        print(
            f"{'model':<10} {'trials (pruned)':>15} {'tuned ndcg@10 [CI]':<26} "
            f"{'default ndcg@10 [CI]':<26} {'tuned ≥ default':<16} {'study s':>8} "
            f"{'trials/s':>8} {'load':>11}"
        )
        best: dict[str, float] = {}
        for r in group:
            tuned, default = r["tuned"], r["default"]
            best[r["model"]] = tuned[0]
            if tuned[0] >= default[0]:
                verdict = "yes"
            elif tuned[2] is not None and default[0] <= tuned[2]:
                verdict = "within CI"
            else:
                verdict = "NO"
            print(
                f"{r['model']:<10} {r['trials']:>8} ({r['pruned']:>3}) {_fmt(tuned):<26} "
                f"{_fmt(default):<26} {verdict:<16} {r['study_s']:>8.1f} "
                f"{r['trials_per_s']:>8.3f} {r['load'][0]:>5.1f}-{r['load'][1]:<5.1f}"
            )
            if "random_shelf_recall@20" in r:
                rand = r["random_shelf_recall@20"]
                tuned_shelf, default_shelf = (
                    r[f"{kind}_shelf_recall@20"][0] for kind in ("tuned", "default")
                )
                print(
                    f"{'':<10} new-arrivals shelf Recall@20: tuned {tuned_shelf:.4f} "
                    f"({tuned_shelf / rand:.2f}x random), default {default_shelf:.4f} "
                    f"({default_shelf / rand:.2f}x), random {rand:.4f}; goal >= 10x"
                )
        keras = [m for m in best if m in KERAS]
        if "ease" in best and keras:
            top = max(keras, key=lambda m: best[m])
            verdict = "≥" if best[top] >= best["ease"] else "<"
            print(
                f"best tuned Keras model {top} {best[top]:.4f} {verdict} "
                f"tuned EASE {best['ease']:.4f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--split", default="random", choices=("random", "cold-items"))
    parser.add_argument("--out", type=Path, help="append one JSON line per finished model")
    parser.add_argument("--report", type=Path, nargs="+", help="print the table of these files")
    args = parser.parse_args()
    if args.report:
        rows = [
            json.loads(line)
            for path in args.report
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        report(rows)
        return
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RECSYS_ARTEFACTS"] = str(Path(tmp) / "artefacts")
        store = Store(Path(tmp) / "bench.duckdb")  # a file: workers share its journal
        try:
            for name in args.datasets.split(","):
                rows += bench_dataset(
                    store,
                    name.strip(),
                    [m.strip() for m in args.models.split(",")],
                    args.trials,
                    args.workers,
                    args.out,
                    args.split,
                )
        finally:
            store.close()
    report(rows)


if __name__ == "__main__":
    main()
