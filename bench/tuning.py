"""Tuning benchmark (issue 15): every model tuned with the same budget, evaluated once on test.

Protocol: random per-user split, 20% test and 10% validation, seed 42, every rating a
positive. Each model is tuned on the validation fold only (``recsys_engine.tuning.tune``,
same trial budget for all), its best config trained as a run and evaluated once on test;
the default config is trained on the same split as the reference. Printed per dataset and
model: test NDCG@10 with its 95% CI, tuned and default, the study's wall time and trials/s.
Goals (BENCHMARKS.md): the best tuned Keras model ≥ tuned EASE on at least two of the three
datasets; every tuned model ≥ its default run, or within the CI. Data is read from
../shared/data (never copied); missing datasets are skipped with a message.

    .venv/bin/python bench/tuning.py [--datasets ml-latest-small,ml-100k,amazon]
        [--models ease,itemknn,two_tower,hybrid,neumf] [--trials 30] [--workers 1]

Run it on a quiet machine: 30 trials × 5 models × 3 datasets is hours of CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
DATA = REPO.parent / "shared" / "data"

from recsys_engine.runs import run_model  # noqa: E402
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402
from recsys_engine.tuning import tune  # noqa: E402

DATASETS = ("ml-latest-small", "ml-100k", "amazon")
MODELS = ("ease", "itemknn", "two_tower", "hybrid", "neumf")
KERAS = ("two_tower", "hybrid", "neumf")
AMAZON = DATA / "amazon-musical-instruments-5core" / "Musical_instruments_reviews.csv"


def load(name: str) -> tuple[pd.DataFrame, str] | None:
    """Interactions and feedback kind, or None when the dataset is not in ../shared/data."""
    if name == "amazon":
        if not AMAZON.exists():
            return None
        df = pd.read_csv(AMAZON, usecols=["reviewerID", "asin", "overall", "unixReviewTime"])
        return pd.DataFrame(
            {
                "user_id": df.reviewerID.astype(str),
                "item_id": df.asin.astype(str),
                "rating": df.overall.astype(float),
                "ts": pd.to_datetime(df.unixReviewTime, unit="s"),
            }
        ), "explicit"
    folder = {"ml-latest-small": "ml-latest-small", "ml-100k": "ml-100k"}.get(name)
    if folder is None:
        raise SystemExit(f"unknown dataset {name}; known: {', '.join(DATASETS)}")
    if not (DATA / folder).is_dir():
        return None
    from quality import load as load_movielens

    return load_movielens(name)


def ndcg(store: Store, run_id: int) -> tuple[float, float | None, float | None]:
    """Test NDCG@10 of a run with its CI."""
    rows = store.run_metrics(run_id)
    row = rows[(rows.metric == "ndcg") & (rows.k == 10)].iloc[0]
    return float(row.value), row.ci_low, row.ci_high


def bench_dataset(store: Store, name: str, models: list[str], trials: int, workers: int) -> None:
    loaded = load(name)
    if loaded is None:
        print(f"{name}: not found under {DATA}, skipped")
        return
    frame, feedback = loaded
    did = store.create_dataset_from_frames(name, frame, feedback=feedback)
    split = create_split(
        store, did, SplitConfig(seed=42, test_fraction=0.2, validation_fraction=0.1)
    )
    print(f"\n{name}: {len(frame):,} interactions, {trials} trials per model")
    print(
        f"{'model':<10} {'tuned ndcg@10 [CI]':<26} {'default':<26} {'study s':>8} {'trials/s':>8}"
    )
    best: dict[str, float] = {}
    for model in models:
        t0 = time.perf_counter()
        result = tune(store, split, model, trials=trials, workers=workers, seed=42)
        seconds = time.perf_counter() - t0
        tuned = ndcg(store, result.run_id)
        default = ndcg(store, run_model(store, split, model))
        best[model] = tuned[0]
        print(
            f"{model:<10} {_fmt(tuned):<26} {_fmt(default):<26} {seconds:>8.1f} "
            f"{len(result.trials) / seconds:>8.3f}"
        )
    keras = [m for m in models if m in KERAS]
    if "ease" in best and keras:
        top = max(keras, key=lambda m: best[m])
        verdict = "≥" if best[top] >= best["ease"] else "<"
        print(
            f"best tuned Keras model {top} {best[top]:.4f} {verdict} tuned EASE {best['ease']:.4f}"
        )


def _fmt(value: tuple[float, float | None, float | None]) -> str:
    mean, low, high = value
    if low is None or high is None:
        return f"{mean:.4f}"
    return f"{mean:.4f} [{low:.4f}, {high:.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RECSYS_ARTEFACTS"] = str(Path(tmp) / "artefacts")
        store = Store(Path(tmp) / "bench.duckdb")  # a file: workers share its journal
        try:
            for name in args.datasets.split(","):
                bench_dataset(
                    store, name.strip(), args.models.split(","), args.trials, args.workers
                )
        finally:
            store.close()


if __name__ == "__main__":
    main()
