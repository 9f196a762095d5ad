"""Time budgets the test suite used to assert, measured here instead (tests assert behaviour).

Wall-clock asserts made tests fail on a busy machine without anything being wrong, so the
figures live here and are printed next to the budget they used to be held to:

1. fit — each reference model fitted on the whole of ml-latest-small (budget 15 s each;
   skipped when ../shared/data/ml-latest-small is absent);
2. split — ``assign_folds`` on 1M synthetic interactions, 20,000 users × 5,000 items, with
   a validation fold (budget 5 s: it is vectorised, no Python loop per interaction);
3. cancel — a two-tower fit of 500 epochs on 160 users × 44 items, cancelled once it has
   reported progress three times: seconds from ``fit`` to ``FitCancelled``, TensorFlow's
   import and the model build included (budget 20 s).

    .venv/bin/python bench/budgets.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "ml-latest-small"

from recsys_engine.errors import FitCancelled  # noqa: E402
from recsys_engine.models import create_model, list_models  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402
from recsys_engine.splits import SplitConfig, assign_folds  # noqa: E402


def fit_seconds() -> list[tuple[str, float, float]]:
    """(what, seconds, budget) for each reference model on the whole of ml-latest-small."""
    if not DATA.is_dir():
        print(f"fit skipped: {DATA} not found")
        return []
    df = pd.read_csv(DATA / "ratings.csv")
    train = TrainData.from_interactions(df.userId.astype(str), df.movieId.astype(str))
    out = []
    for spec in list_models("reference"):
        t0 = time.perf_counter()
        create_model(spec.name).fit(train)
        out.append((f"fit {spec.name}, ml-latest-small", time.perf_counter() - t0, 15.0))
    return out


def split_seconds() -> tuple[str, float, float]:
    """(what, seconds, budget) of ``assign_folds`` on 1M synthetic interactions."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    arrays = {
        "user": np.sort(rng.integers(0, 20_000, n)),
        "item": rng.integers(0, 5_000, n),
        "ts": rng.random(n) * 1e9,
    }
    t0 = time.perf_counter()
    assign_folds(arrays, SplitConfig(validation_fraction=0.1))
    return ("assign_folds, 1M interactions", time.perf_counter() - t0, 5.0)


def cancel_seconds() -> tuple[str, float, float]:
    """(what, seconds, budget) from a 500-epoch two-tower ``fit`` to its ``FitCancelled``."""
    rng = np.random.default_rng(7)
    users = [f"u{u:03d}" for u in range(160) for _ in range(6)]
    items = [f"i{i:02d}" for u in range(160) for i in rng.choice(44, 6, replace=False)]
    data = TrainData.from_interactions(users, items, item_ids=[f"i{i:02d}" for i in range(44)])
    config = {"epochs": 500, "batch_size": 32, "learning_rate": 0.02, "patience": 0, "dim": 16}
    calls: list[int] = []
    t0 = time.perf_counter()
    try:
        create_model("two_tower", config).fit(
            data,
            on_progress=lambda done, total, info: calls.append(done),
            should_stop=lambda: len(calls) >= 3,
        )
    except FitCancelled:
        return ("cancel two_tower after 3 reports", time.perf_counter() - t0, 20.0)
    raise RuntimeError("the two-tower fit ran to its end: should_stop was not honoured")


def main() -> None:
    rows = [*fit_seconds(), split_seconds(), cancel_seconds()]
    print(f"{'what':<36} {'seconds':>8} {'budget':>7}")
    for what, seconds, budget in rows:
        verdict = "" if seconds < budget else "  OVER BUDGET"
        print(f"{what:<36} {seconds:8.2f} {budget:7.1f}{verdict}")


if __name__ == "__main__":
    main()
