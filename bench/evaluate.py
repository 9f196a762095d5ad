"""Evaluation speed and memory on a synthetic catalogue (issue 3).

An EASE-like scorer (dense item × item matrix B, score = history · B) over synthetic
50k users × 20k items. In the same run we time

- the **bare limit**: per batch of users, the score product and one ``argpartition``;
- **ours**: ``recsys_engine.evaluation.evaluate`` (scores, exclusion of training items,
  top-K, hit matrix, every metric at K = 5, 10, 20, per-user rows) — goal ≤ 1.5× the bare
  limit;

and then the peak memory that ``evaluate`` allocates (``tracemalloc``) for 10k, 25k and 50k
test users with the same batch size, which should not grow with the number of users.

    .venv/bin/python bench/evaluate.py [--users 50000] [--items 20000] [--batch 1024]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_engine.evaluation import EvalOptions, SplitData, evaluate  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402
from recsys_engine.models.ease import EASE  # noqa: E402


def synthetic(n_users: int, n_items: int, per_user: int, n_test: int, seed: int = 0):
    """Train and test CSR matrices with Zipf-like item popularity (no overlap)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / (1.0 + np.arange(n_items)) ** 0.8
    p /= p.sum()
    n = per_user + n_test
    items = rng.choice(n_items, size=(n_users, n * 2), p=p)
    # keep the first n distinct items of each row (vectorised: sort, drop repeats)
    items.sort(axis=1)
    dup = np.zeros_like(items, dtype=bool)
    dup[:, 1:] = items[:, 1:] == items[:, :-1]
    items = np.where(dup, n_items, items)  # push duplicates to the end
    items.sort(axis=1)
    items = items[:, :n]
    rng.permuted(items, axis=1, out=items)  # random order, then cut into train/test
    keep = items < n_items

    def csr(cols: slice) -> sp.csr_matrix:
        sel = items[:, cols].ravel()
        ok = keep[:, cols].ravel()
        r = np.repeat(np.arange(n_users), items[:, cols].shape[1])[ok]
        m = sp.csr_matrix((np.ones(ok.sum(), np.float32), (r, sel[ok])), shape=(n_users, n_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    return csr(slice(0, per_user)), csr(slice(per_user, n))


def ease_like(n_items: int, train: sp.csr_matrix, seed: int = 1) -> EASE:
    """An EASE model whose B is random (the scorer's cost is what matters here)."""
    rng = np.random.default_rng(seed)
    model = EASE({"solver": "primal"})
    b = rng.standard_normal((n_items, n_items), dtype=np.float32)
    np.fill_diagonal(b, 0.0)
    model.b, model.dual, model.x, model.w = b, False, None, None
    model.diag_p = np.ones(n_items)
    model.item_ids = np.array([f"i{i}" for i in range(n_items)], dtype=object)
    return model


def bare_limit(model: EASE, train: sp.csr_matrix, users: np.ndarray, k: int, batch: int) -> float:
    t0 = time.perf_counter()
    n_items = train.shape[1]
    for start in range(0, len(users), batch):
        scores = train[users[start : start + batch]] @ model.b
        np.argpartition(scores, n_items - k, axis=1)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--test-per-user", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1024)
    args = parser.parse_args()

    t0 = time.perf_counter()
    train, test = synthetic(args.users, args.items, args.per_user, args.test_per_user)
    model = ease_like(args.items, train)
    print(
        f"data: {args.users} users x {args.items} items, {train.nnz} train / {test.nnz} test "
        f"interactions; B {model.b.nbytes / 2**30:.2f} GiB; built in "
        f"{time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    ids = np.array([f"u{i}" for i in range(args.users)], dtype=object)
    data = SplitData(
        train=TrainData(matrix=train, user_ids=ids, item_ids=model.item_ids),
        seen=train,
        test=test,
    )
    opts = EvalOptions(ks=(5, 10, 20), batch_size=args.batch)
    users = np.flatnonzero(np.diff(test.indptr) > 0)

    # warm-up on a slice, then alternate bare / ours twice and keep the best of each
    bare_limit(model, train, users[: args.batch], 20, args.batch)
    bare, ours = [], []
    for _ in range(2):
        bare.append(bare_limit(model, train, users, 20, args.batch))
        t = time.perf_counter()
        result = evaluate(model, data, opts)
        ours.append(time.perf_counter() - t)
        print(f"  bare {bare[-1]:.2f}s  ours {ours[-1]:.2f}s", flush=True)
    ratio = min(ours) / min(bare)
    print(
        f"evaluate {len(users)} users: ours {min(ours):.2f}s, bare limit {min(bare):.2f}s, "
        f"ratio {ratio:.2f}x (goal <= 1.5x); ndcg@10 {result.metric_dict()['ndcg@10']:.4f}"
    )
    t = time.perf_counter()
    frames = (result.metrics_frame(), result.user_metrics_frame())
    recs = result.recommendations_frame(model.item_ids)
    print(
        f"result frames: {len(frames[1])} user-metric rows, {len(recs)} recommendation rows "
        f"in {time.perf_counter() - t:.2f}s"
    )

    print("peak memory allocated by evaluate (tracemalloc), same batch size:")
    for n_users in (10_000, 25_000, 50_000):
        if n_users > args.users:
            continue
        sub = SplitData(
            train=TrainData(
                matrix=train[:n_users], user_ids=ids[:n_users], item_ids=model.item_ids
            ),
            seen=train[:n_users],
            test=test[:n_users],
        )
        tracemalloc.start()
        tracemalloc.reset_peak()
        evaluate(model, sub, opts)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        per_batch = args.batch * args.items * 4 / 2**20
        print(
            f"  {n_users:>6} users: peak {peak / 2**20:7.1f} MiB "
            f"(one batch of float32 scores = {per_batch:.0f} MiB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
