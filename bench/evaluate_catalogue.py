"""Full-ranking evaluation of a Two-tower at a shop-sized catalogue (issue 14).

At 186k items the evaluation of ``bench/scale.py``'s 3M-row log took longer than training
(996 s for 147k test users). This bench times, in one run and on the same synthetic
towers (``--items`` items, ``--dim`` dimensions, random weights: only the cost matters)
and test users (``--users``, batches of ``--batch``):

- **floor**: per batch, the score product ``U · V_outᵀ`` alone — nothing can rank without it;
- **plain**: the product, a bias added into a new block, one ``argpartition`` per row and
  the ordering of the top 50 (what evaluation did before this bench);
- **ours**: ``recsys_engine.evaluation.evaluate`` on a ``two_tower`` model holding the
  same towers (scores, bias in place, block-maxima top-K, exclusion of training items,
  hits, every metric, the stored top-50).

It prints each one's seconds per 1,000 users and the ratios ours / floor and plain / ours.

    .venv/bin/python bench/evaluate_catalogue.py [--users 4096] [--items 186363] [--dim 512]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.evaluate import synthetic  # noqa: E402
from recsys_engine.evaluation import EvalOptions, SplitData, evaluate  # noqa: E402
from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.models.data import TrainData, mask_items  # noqa: E402

K = 50


def towers(n_items: int, dim: int, seed: int = 1):
    """A ``two_tower`` model with random towers (nothing trained)."""
    rng = np.random.default_rng(seed)
    model = create_model("two_tower", {"dim": dim})
    model.v_in = rng.standard_normal((n_items, dim), dtype=np.float32) * 0.05
    model.v_out = rng.standard_normal((n_items, dim), dtype=np.float32) * 0.05
    model.bias = rng.standard_normal(n_items).astype(np.float32)
    model.id_dim = dim
    model.item_ids = np.array([f"i{i}" for i in range(n_items)], dtype=object)
    return model


def floor(model, train, users, batch: int) -> float:
    t0 = time.perf_counter()
    for start in range(0, len(users), batch):
        u = model._user_vectors(model._weights(train[users[start : start + batch]]))
        u @ model.v_out.T
    return time.perf_counter() - t0


def plain(model, train, users, batch: int) -> float:
    t0 = time.perf_counter()
    m = train.shape[1]
    for start in range(0, len(users), batch):
        rows = train[users[start : start + batch]]
        u = model._user_vectors(model._weights(rows))
        scores = u @ model.v_out.T + model.bias[None, :]
        mask_items(scores, rows)
        part = np.argpartition(scores, m - K, axis=1)[:, m - K :]
        values = np.take_along_axis(scores, part, axis=1)
        np.take_along_axis(part, np.lexsort((part, -values), axis=1), axis=1)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=4096)
    p.add_argument("--items", type=int, default=186_363)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()

    train, test = synthetic(args.users, args.items, 20, 5)
    model = towers(args.items, args.dim)
    ids = np.array([f"u{i}" for i in range(args.users)], dtype=object)
    data = SplitData(
        train=TrainData(matrix=train, user_ids=ids, item_ids=model.item_ids), seen=train, test=test
    )
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    opts = EvalOptions(ks=(5, 10, 20), batch_size=args.batch)
    print(
        f"{len(users):,} test users x {args.items:,} items, dim {args.dim}, "
        f"batches of {args.batch}; {args.rounds} rounds, best of each kept",
        flush=True,
    )
    floor(model, train, users[: args.batch], args.batch)  # warm-up
    times: dict[str, list[float]] = {"floor": [], "plain": [], "ours": []}
    for _ in range(args.rounds):
        times["floor"].append(floor(model, train, users, args.batch))
        times["plain"].append(plain(model, train, users, args.batch))
        t = time.perf_counter()
        evaluate(model, data, opts)
        times["ours"].append(time.perf_counter() - t)
        print("  " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    best = {k: min(v) for k, v in times.items()}
    per_k = {k: v / len(users) * 1000 for k, v in best.items()}
    print("seconds per 1,000 test users: " + ", ".join(f"{k} {v:.2f}" for k, v in per_k.items()))
    print(
        f"ours / floor {best['ours'] / best['floor']:.2f}x; "
        f"plain / ours {best['plain'] / best['ours']:.2f}x"
    )


if __name__ == "__main__":
    main()
