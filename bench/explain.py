"""Explain speed (issue 7): all explanations of one user's top-10 vs scoring that user once.

Loads ml-latest-small from ../shared/data (skipped when absent) into a temporary database,
makes a random 80/20 split, trains EASE and one Keras model (hybrid, 10 epochs: speed does
not depend on training quality), then for 30 random test users measures, after the model is
loaded: one ``score`` call for the user's history (the whole catalogue), and
``Explainer.recommend_user(user, 10)`` with every explanation type; plus a 5-item what-if
history. Prints medians and the ratio. Usage: ``.venv/bin/python bench/explain.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DATA = REPO.parent / "shared" / "data" / "ml-latest-small"

from recsys_engine.cli import main  # noqa: E402
from recsys_engine.explain import Explainer  # noqa: E402
from recsys_engine.store import Store  # noqa: E402

MODELS = {"ease": None, "hybrid": '{"epochs": 10, "patience": 0}'}
N_USERS = 30


def _ms(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def bench(store: Store, run_id: int) -> dict[str, float]:
    t_load, ex = _ms(lambda: Explainer.from_run(store, run_id))
    rng = np.random.default_rng(0)
    users = rng.choice(ex.test_users(), N_USERS, replace=False)
    ex.recommend_user(users[0], 10)  # warm-up
    score, explain, whatif = [], [], []
    for user in users:
        row = ex.user_row(user)
        score.append(_ms(lambda r=row: ex.model.score(ex.train[r]))[0])
        explain.append(_ms(lambda u=user: ex.recommend_user(u, 10))[0])
        history = ex.item_labels()["item_id"].iloc[rng.choice(200, 5, replace=False)].tolist()
        whatif.append(_ms(lambda h=history: ex.recommend_history(h, 10))[0])
    s, e = statistics.median(score), statistics.median(explain)
    return {
        "load_ms": t_load,
        "score_ms": s,
        "explain_ms": e,
        "p90_explain_ms": float(np.percentile(explain, 90)),
        "whatif_ms": statistics.median(whatif),
        "ratio": e / s,
    }


def run() -> None:
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        quiet = ["--db", db]
        assert main([*quiet, "ingest", "--name", "mls", "--format", "movielens", str(DATA)]) == 0
        assert main([*quiet, "split", "mls", "--strategy", "random", "--seed", "42"]) == 0
        run_ids = {}
        for i, (name, config) in enumerate(MODELS.items(), start=1):
            argv = [*quiet, "train", "mls", "--split", "1", "--model", name]
            if config:
                argv += ["--config", config]
            assert main(argv) == 0
            run_ids[name] = i
        store = Store(db)
        print(f"\nml-latest-small, {N_USERS} random test users, top-10, medians (ms):")
        print(
            "| model | load s | score once | all explanations | p90 | what-if (5 items) | ratio |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, rid in run_ids.items():
            r = bench(store, rid)
            print(
                f"| {name} | {r['load_ms'] / 1000:.2f} | {r['score_ms']:.1f} | "
                f"{r['explain_ms']:.1f} | {r['p90_explain_ms']:.1f} | {r['whatif_ms']:.1f} | "
                f"{r['ratio']:.1f}× |"
            )
        store.close()


if __name__ == "__main__":
    run()
