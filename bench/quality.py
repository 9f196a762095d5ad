"""Quality benchmark of the reference models against published-style anchors (issue 3).

Protocol: random per-user split, 20% test, seed 42, every interaction positive (or
rating >= 4 for the variant), full ranking over the whole catalogue with training items
excluded; NDCG@10 averaged over test users. EASE's L2 is tuned on a validation fold carved
from train (a second split with the same seed, whose test fold is identical); ItemKNN and
Popularity use their defaults. Data is read from ../shared/data (never copied).

    .venv/bin/python bench/quality.py [--datasets ml-latest-small,ml-100k,lastfm]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

from recsys_engine.evaluation import EvalOptions, evaluate, load_split_data  # noqa: E402
from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.runs import run_metric_dict, run_model  # noqa: E402
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402

ANCHORS = {
    "ml-latest-small": {"ease": 0.365, "itemknn": 0.32, "popularity": 0.18},
    "ml-100k": {"ease": 0.370, "itemknn": 0.333, "popularity": 0.180},
    "lastfm": {"ease": 0.231, "itemknn": 0.209, "popularity": 0.076},
}
L2_GRID = (25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)


def load(name: str) -> tuple[pd.DataFrame, str]:
    """Interactions frame (user_id, item_id, rating, weight, ts) and feedback kind."""
    if name == "ml-latest-small":
        df = pd.read_csv(DATA / name / "ratings.csv")
        cols = {"userId": "user_id", "movieId": "item_id", "timestamp": "ts"}
        df = df.rename(columns=cols)
    elif name == "ml-100k":
        df = pd.read_csv(
            DATA / name / "u.data", sep="\t", names=["user_id", "item_id", "rating", "ts"]
        )
    elif name == "lastfm":
        df = pd.read_csv(DATA / "hetrec2011-lastfm-2k" / "user_artists.dat", sep="\t")
        df = df.rename(columns={"userID": "user_id", "artistID": "item_id"})
        return pd.DataFrame(
            {
                "user_id": df.user_id.astype(str),
                "item_id": df.item_id.astype(str),
                "weight": df.weight.astype(float),
            }
        ), "implicit"
    else:
        raise SystemExit(f"unknown dataset {name}")
    return pd.DataFrame(
        {
            "user_id": df.user_id.astype(str),
            "item_id": df.item_id.astype(str),
            "rating": df.rating.astype(float),
            "ts": pd.to_datetime(df.ts, unit="s"),
        }
    ), "explicit"


def tune_l2(store: Store, split_id: int, threshold: float | None) -> tuple[float, dict]:
    data = load_split_data(store, split_id, threshold).validation_view()
    scores = {}
    for l2 in L2_GRID:
        model = create_model("ease", {"l2": l2}).fit(data.train)
        scores[l2] = evaluate(model, data, EvalOptions(ks=(10,))).metric_dict()["ndcg@10"]
    return max(scores, key=scores.get), scores


#: (label, dataset, positive threshold, anchors key or None)
CASES = {
    "ml-latest-small": [
        ("ml-latest-small", None, "ml-latest-small"),
        ("ml-latest-small rating>=4", 4.0, None),
    ],
    "ml-100k": [("ml-100k", None, None), ("ml-100k rating>=4", 4.0, "ml-100k")],
    "lastfm": [("lastfm", None, "lastfm")],
}


def bench(store: Store, name: str) -> list[dict]:
    frame, feedback = load(name)
    did = store.create_dataset_from_frames(name, frame, feedback=feedback)
    final = create_split(store, did, SplitConfig(test_fraction=0.2, seed=42))
    tuning = create_split(
        store, did, SplitConfig(test_fraction=0.2, seed=42, validation_fraction=0.1)
    )
    rows = []
    for label, threshold, anchor_key in CASES[name]:
        best, grid = tune_l2(store, tuning, threshold)
        print(
            f"{label}: EASE validation NDCG@10 by l2: "
            + ", ".join(f"{k:g}={v:.4f}" for k, v in grid.items())
            + f" -> l2={best:g}",
            flush=True,
        )
        opts = {"positive_threshold": threshold}
        for model, config in (("ease", {"l2": best}), ("itemknn", {}), ("popularity", {})):
            t0 = time.perf_counter()
            run_id = run_model(store, final, model, config, options=opts)
            run = store.get_run(run_id)
            anchor = ANCHORS[anchor_key][model] if anchor_key else None
            ndcg = run_metric_dict(store, run_id)["ndcg@10"]
            rows.append(
                {
                    "dataset": label,
                    "model": model + (f" (l2={best:g})" if model == "ease" else ""),
                    "ndcg@10": round(ndcg, 4),
                    "anchor": anchor,
                    "diff": None if anchor is None else round(ndcg - anchor, 4),
                    "fit_s": round(run["fit_seconds"], 2),
                    "eval_s": round(run["eval_seconds"], 2),
                    "total_s": round(time.perf_counter() - t0, 2),
                }
            )
    return rows


def seed_spread(store: Store, seeds: range) -> None:
    """NDCG@10 of the three models on ml-latest-small over several split seeds."""
    frame, feedback = load("ml-latest-small")
    did = store.create_dataset_from_frames("ml-latest-small seeds", frame, feedback=feedback)
    out = {"ease (l2=100)": [], "itemknn": [], "popularity": []}
    for seed in seeds:
        data = load_split_data(store, create_split(store, did, SplitConfig(seed=seed)))
        for label, (model, config) in zip(
            out, (("ease", {"l2": 100.0}), ("itemknn", {}), ("popularity", {})), strict=True
        ):
            fitted = create_model(model, config).fit(data.train)
            out[label].append(
                evaluate(fitted, data, EvalOptions(ks=(10,))).metric_dict()["ndcg@10"]
            )
    print(f"\nml-latest-small NDCG@10 over split seeds {seeds.start}..{seeds.stop - 1}:")
    for label, values in out.items():
        v = pd.Series(values)
        print(
            f"  {label:14s} mean {v.mean():.4f}  sd {v.std():.4f}  "
            f"min {v.min():.4f}  max {v.max():.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml-latest-small,ml-100k,lastfm")
    parser.add_argument(
        "--seeds",
        type=int,
        default=0,
        help="also show the spread over this many split seeds (ml-latest-small)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RECSYS_ARTEFACTS"] = str(Path(tmp) / "artefacts")
        store = Store(":memory:")
        rows = []
        for name in args.datasets.split(","):
            rows += bench(store, name)
        table = pd.DataFrame(rows)
        print()
        print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))
        off = table.dropna(subset=["diff"])
        bad = off[off["diff"].abs() > 0.01]
        print(f"\n{len(off) - len(bad)}/{len(off)} within ±0.01 of the anchors")
        if args.seeds:
            seed_spread(store, range(args.seeds))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
