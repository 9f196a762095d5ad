"""Training speed of the Keras models next to EASE's fit time, measured in the same run.

Datasets: ml-latest-small (random 20% split, seed 42; the training fold) and a synthetic
set of 1M interactions (6,040 users × 3,706 items, Zipf-like item popularity). For each
model: fit seconds for ``--epochs`` epochs (default: the model's default epochs on
ml-latest-small, 3 on the synthetic set), seconds per epoch, training examples per second
(examples as the model defines them: users for the pooled two-towers and NeuMF's softmax,
(user, item) pairs for NeuMF's sampled losses and MF) and interactions per second
(training interactions × epochs / seconds).

    .venv/bin/python bench/train.py [--datasets ml-latest-small,synthetic-1m]
        [--models two_tower,hybrid,content,neumf,mf_explicit] [--epochs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402


def synthetic(
    n_users: int = 6040, n_items: int = 3706, n: int = 1_000_000, seed: int = 0
) -> TrainData:
    """Random interactions with Zipf-like item popularity, ratings 1–5, item categories."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    users = rng.integers(0, n_users, int(n * 1.1))
    items = rng.choice(n_items, int(n * 1.1), p=pop / pop.sum())
    keys = np.unique(users.astype(np.int64) * n_items + items)[:n]
    u, i = keys // n_items, keys % n_items
    ratings = rng.integers(1, 6, len(keys)).astype(np.float32)
    m = sp.csr_matrix((np.ones(len(keys), np.float32), (u, i)), shape=(n_users, n_items))
    r = sp.csr_matrix((ratings, (u, i)), shape=(n_users, n_items))
    item_ids = np.array([str(k) for k in range(n_items)], dtype=object)
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "title": [f"item {k % 97}" for k in range(n_items)],
            "text": "",
            "categories": [[f"c{k % 18}"] for k in range(n_items)],
        }
    )
    return TrainData(
        matrix=m,
        user_ids=np.array([str(k) for k in range(n_users)], dtype=object),
        item_ids=item_ids,
        ratings=r,
        items=items,
    )


def movielens() -> TrainData:
    from quality_keras import Bench

    from recsys_engine.store import Store

    bench = Bench(Store(":memory:"), "ml-latest-small", cold=False)
    data = bench.data(bench.final).train
    data.validation = None
    return data


def timed_fit(name: str, config: dict, data: TrainData) -> dict:
    model = create_model(name, config)
    t0 = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - t0
    r = getattr(model, "fit_result", None)
    epochs = r.epochs if r else None
    return {
        "model": name,
        "fit_s": round(seconds, 2),
        "epochs": epochs,
        "s_per_epoch": round(r.seconds / r.epochs, 3) if r else None,
        "examples_per_s": round(r.examples_per_second) if r else None,
        "interactions_per_s": round(data.matrix.nnz * epochs / r.seconds) if r else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml-latest-small,synthetic-1m")
    parser.add_argument("--models", default="two_tower,hybrid,content,neumf,mf_explicit")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    rows = []
    create_model("two_tower", {"epochs": 1}).fit(synthetic(50, 40, 500))  # TF import, warm-up
    for name in args.datasets.split(","):
        data = movielens() if name == "ml-latest-small" else synthetic()
        epochs = args.epochs or (None if name == "ml-latest-small" else 3)
        ease = timed_fit("ease", {"l2": 200.0}, data)
        rows.append({"dataset": name, **ease, "x_ease": 1.0})
        for model in args.models.split(","):
            config = {} if epochs is None else {"epochs": epochs}
            if model == "mf_explicit":
                config["holdout"] = 0.0
            row = timed_fit(model, config, data)
            row["x_ease"] = round(row["fit_s"] / max(ease["fit_s"], 1e-9), 1)
            rows.append({"dataset": name, **row})
            print(rows[-1], flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
