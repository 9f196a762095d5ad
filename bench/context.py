"""Context benchmark (issue 18): the two-tower and sasrec, each with and without the
event's context.

1. **Synthetic**: a dataset where the preferred items depend on a context column. Every
   user likes a few items of cluster 1 and a few of cluster 2; each event happens on
   device A or B (at random), and on A the user picks from their cluster-1 items, on B
   from their cluster-2 items. A context-blind model can only learn the user's two sets;
   one that knows the device of the event to predict can rank the right half first.
2. **ml-100k** with context derived from the timestamps (hour of day, weekday), the
   effect reported whatever it is.

The context-aware two-tower trains on one example per event (the blind one on one per
user), so a third line scores the same context-aware weights in the neutral context: the
gap between it and the context line is what the test event's context itself adds. sasrec
trains on the same windows either way (each position then also gets its target event's
context); its synthetic events come in time order (one hour apart), as the Train page's
leave-last split needs.

Protocol: leave-last-1 split (per user the last event is test, the one before it
validation), full ranking over the catalogue, training and validation items excluded,
NDCG@10 and HR@10 with 95% CIs; a context-aware model scores each test user in the
context of their test event. The two variants of a model share every setting except
``use_context`` (and, for the two-tower, the epoch budget); the epoch is chosen by early
stopping on the validation fold; nothing is chosen on test. sasrec runs its defaults.
Data is read from ../shared/data (never copied); a missing dataset is skipped.

    TF_NUM_INTEROP_THREADS=1 .venv/bin/python bench/context.py [synthetic|ml-100k|all] \
        [two_tower,sasrec]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

from recsys_engine.evaluation import EvalOptions, evaluate, load_split_data  # noqa: E402
from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402

SETTINGS = {"dim": 64, "batch_size": 256, "seed": 0}
#: Epoch budgets of the two-tower (early stopping on validation picks the epoch). The
#: context-aware one takes one example per event, so each of its epochs holds many more
#: steps.
BUDGET = {False: {"epochs": 150, "patience": 25}, True: {"epochs": 30, "patience": 6}}
MODELS = ("two_tower", "sasrec")


class Neutral:
    """A fitted context-aware model scored in the neutral context (every field unknown):
    what the same weights do without the context of the test event."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        return getattr(self.model, name)

    @property
    def uses_context(self) -> bool:
        return False


def synthetic_frame(
    n_users: int = 800,
    n_items: int = 400,
    n_groups: int = 40,
    per_cluster: int = 10,
    events: int = 12,
    seed: int = 0,
) -> pd.DataFrame:
    """Interactions with a ``device`` context. Users come in taste groups; a group likes
    ``per_cluster`` items of cluster 1 (the first half of the catalogue) and as many of
    cluster 2. Each event happens on device A or B (half each, in random order): on A
    the user picks an unseen item of their group's cluster-1 items, on B of its cluster-2
    items. (user, item) pairs are unique."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    groups = [
        (
            rng.choice(half, per_cluster, replace=False),
            half + rng.choice(n_items - half, per_cluster, replace=False),
        )
        for _ in range(n_groups)
    ]
    rows = []
    for u in range(n_users):
        a_items, b_items = (list(rng.permutation(g)) for g in groups[u % n_groups])
        devices = rng.permutation(["A"] * (events // 2) + ["B"] * (events - events // 2))
        for t, d in enumerate(devices):
            item = a_items.pop() if d == "A" else b_items.pop()
            rows.append((f"u{u}", f"i{item}", 1.0, 1_700_000_000 + 3600 * t, d))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "epoch", "device"])


def ml100k_frame() -> pd.DataFrame | None:
    """ml-100k with hour and weekday of each rating (UTC) as context, or None."""
    path = DATA / "ml-100k" / "u.data"
    if not path.exists():
        return None
    df = pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "epoch"])
    when = pd.to_datetime(df.epoch, unit="s")
    return pd.DataFrame(
        {
            "user_id": df.user_id.astype(str),
            "item_id": df.item_id.astype(str),
            "rating": df.rating.astype(float),
            "epoch": df.epoch,
            "hour": when.dt.strftime("%H"),
            "weekday": when.dt.strftime("%a"),
        }
    )


def run(
    name: str,
    frame: pd.DataFrame,
    context: tuple[str, ...],
    settings: dict,
    models: tuple[str, ...] = MODELS,
) -> None:
    store = Store(":memory:")
    inter = frame.assign(ts=pd.to_datetime(frame.epoch, unit="s")).drop(columns="epoch")
    did = store.create_dataset_from_frames(name, inter, feedback="implicit", context=context)
    sid = create_split(store, did, SplitConfig(strategy="leave-last", n_last=1, validation_last=1))
    data = load_split_data(store, sid)
    print(f"\n## {name}: {len(frame):,} events, context {', '.join(context)}, leave-last-1")
    print(f"{'model':<34}{'NDCG@10':>24}{'HR@10':>24}{'best ep':>8}{'fit s':>8}")

    def report(label: str, model, fit_s: float, epochs) -> float:
        res = evaluate(model, data, EvalOptions(ks=(10,)))
        frame_m = res.metrics_frame().set_index(["metric", "k"])
        row = []
        for metric in ("ndcg", "hitrate"):
            v, lo, hi = frame_m.loc[(metric, 10), ["value", "ci_low", "ci_high"]]
            row.append(f"{v:.4f} [{lo:.4f}, {hi:.4f}]")
        print(f"{label:<34}{row[0]:>24}{row[1]:>24}{epochs:>8}{fit_s:>8.1f}")
        return float(frame_m.loc[("ndcg", 10), "value"])

    for model_name in models:
        results = {}
        for use in (False, True):
            if model_name == "two_tower":
                config = {**settings, **BUDGET[use], "use_context": use}
            else:  # the model's defaults (seeded)
                config = {"seed": settings["seed"], "use_context": use}
            model = create_model(model_name, config)
            t0 = time.perf_counter()
            model.fit(data.train)
            fit_s = time.perf_counter() - t0
            epochs = model.fit_result.best_epoch if model.fit_result else "-"
            label = f"{model_name} + context" if use else f"{model_name} (no context)"
            results[use] = report(label, model, fit_s, epochs)
            if use:
                results["neutral"] = report("  same model, neutral context", Neutral(model), 0, "")
        ratio = results[True] / results[False] if results[False] else float("inf")
        print(
            f"{model_name}: context / no context NDCG@10: {ratio:.2f}x ({(ratio - 1) * 100:+.1f}%)"
        )
        ratio = results[True] / results["neutral"] if results["neutral"] else float("inf")
        print(f"{model_name}: context / same model in the neutral context: {ratio:.2f}x")


def main(which: str = "all", models: tuple[str, ...] = MODELS) -> None:
    if which in ("synthetic", "all"):
        run("synthetic-device", synthetic_frame(), ("device",), SETTINGS, models)
    if which in ("ml-100k", "all"):
        frame = ml100k_frame()
        if frame is None:
            print("\nml-100k: skipped (../shared/data/ml-100k absent)")
        else:
            run("ml-100k", frame, ("hour", "weekday"), {**SETTINGS, "dim": 128}, models)


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "all",
        tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else MODELS,
    )
