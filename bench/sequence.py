"""Sequence benchmark (issue 18): ``sasrec`` and ``gru4rec`` beside EASE, Item-kNN,
two_tower and the order-aware reference ``transitions``.

Protocol: leave-last-1 split (per user, the last interaction is test, the one before it
validation), every interaction positive, full ranking over the catalogue with training (and
validation) items excluded; NDCG@10 and HR@10 over test users with 95% CIs. EASE's l2,
Item-kNN's neighbours and transitions' ``n_last`` are each chosen on the validation fold;
the Keras models choose their epochs on it by early stopping. Nothing is chosen on test.

Datasets: ``ml-100k``, ``ml-latest-small`` and ``amazon`` (the Amazon musical-instruments
reviews, 5-core; its timestamps are whole days, so the order of a user's events within
one day is the split's tie rule, not the real order) from ../shared/data (never copied;
skipped when absent) and ``planted``: a synthetic log where each user walks the catalogue
i → i+1 (cyclically) with 15% random jumps, so the next item is only knowable from the
order of the history.

Each model runs in its own child process, so its peak RSS is its own. Besides the app's
protocol (a test user is scored from the training fold only: on leave-last-1 the event
just before the test event, the validation one, is not in the history), a second column
scores histories that include the validation event (the usual SASRec protocol), for
information.

    TF_NUM_INTEROP_THREADS=1 .venv/bin/python bench/sequence.py --datasets ml-100k,amazon
        [--models ease,sasrec] [--out rows.jsonl]   # one JSON line per model, written at once

With ``--items`` the item metadata (titles, genres, years: ``quality_keras.items_frame``)
is stored too, which ``use_content`` needs:

    TF_NUM_INTEROP_THREADS=1 .venv/bin/python bench/sequence.py --dataset ml-100k --items \
        --models sasrec --config '{"sasrec": {"use_content": true}}'
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

from recsys_engine.evaluation import EvalOptions, evaluate, load_split_data  # noqa: E402
from recsys_engine.metrics import hit_matrix, ranking_metrics  # noqa: E402
from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.models.data import (  # noqa: E402
    mask_items,
    ordered_histories,
    recency_matrix,
    top_k,
)
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402

MODELS = ("ease", "itemknn", "two_tower", "transitions", "sasrec", "gru4rec")
#: settings compared on the validation fold (the best is refitted and tested)
GRIDS = {
    "ease": [{"l2": v} for v in (50.0, 200.0, 800.0)],
    "itemknn": [{"neighbours": n} for n in (20, 50, 200)],
    "transitions": [{"n_last": n} for n in (1, 2, 3, 5, 8)],
}


def load(name: str) -> pd.DataFrame | None:
    """Interactions (user_id, item_id, rating, ts) of a dataset, or None when absent."""
    if name == "planted":
        return planted()
    if name == "ml-100k":
        path = DATA / "ml-100k" / "u.data"
        if not path.exists():
            return None
        df = pd.read_csv(path, sep="\t", names=["user", "item", "rating", "ts"])
    elif name == "amazon":
        path = DATA / "amazon-musical-instruments-5core" / "Musical_instruments_reviews.csv"
        if not path.exists():
            return None
        df = pd.read_csv(path, usecols=["reviewerID", "asin", "overall", "unixReviewTime"])
        df = df.rename(
            columns={
                "reviewerID": "user",
                "asin": "item",
                "overall": "rating",
                "unixReviewTime": "ts",
            }
        )
    elif name == "ml-latest-small":
        path = DATA / "ml-latest-small" / "ratings.csv"
        if not path.exists():
            return None
        df = pd.read_csv(path).rename(
            columns={"userId": "user", "movieId": "item", "timestamp": "ts"}
        )
    else:
        raise SystemExit(f"unknown dataset {name!r}")
    return pd.DataFrame(
        {
            "user_id": df.user.astype(str),
            "item_id": df.item.astype(str),
            "rating": df.rating.astype(float),
            "ts": pd.to_datetime(df.ts, unit="s"),
        }
    )


def planted(n_users: int = 600, n_items: int = 300, seed: int = 0) -> pd.DataFrame:
    """Each user starts at a random item and steps to the next one (i → i+1 mod n_items)
    with probability 0.85, else jumps to a random item; 15–40 steps per user."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        item = int(rng.integers(n_items))
        for t in range(int(rng.integers(15, 41))):
            rows.append((f"u{u}", f"i{item}", 1.0, t))
            item = (item + 1) % n_items if rng.random() < 0.85 else int(rng.integers(n_items))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "ts"])
    df["ts"] = pd.to_datetime(df.ts, unit="s")
    return df.drop_duplicates(["user_id", "item_id"], keep="last")


def run_one(dataset: str, name: str, config: dict, with_items: bool = False) -> dict:
    """Tune (grid on validation, or early stopping), fit, test both ways; one result row."""
    frame = load(dataset)
    store = Store(":memory:")
    feedback = "implicit" if dataset == "planted" else "explicit"
    items = None
    if with_items:
        sys.path.insert(0, str(REPO / "bench"))
        from quality_keras import items_frame

        items = items_frame(dataset)
    did = store.create_dataset_from_frames(dataset, frame, items, feedback=feedback)
    split = create_split(
        store, did, SplitConfig(strategy="leave-last", n_last=1, validation_last=1)
    )
    data = load_split_data(store, split)
    opts = EvalOptions(ks=(10,))
    chosen, val = dict(config), None
    if name in GRIDS and not config:
        valid = data.validation_view()
        scores = {}
        for c in GRIDS[name]:
            m = create_model(name, c).fit(valid.train)
            scores[json.dumps(c)] = evaluate(m, valid, opts).metric_dict()["ndcg@10"]
        chosen = json.loads(max(scores, key=scores.get))
        val = scores[json.dumps(chosen)]
    t0 = time.perf_counter()
    model = create_model(name, chosen).fit(data.train)
    fit_s = time.perf_counter() - t0
    result = evaluate(model, data, opts)
    table = result.metrics_frame()
    at10 = table[table["k"] == 10].set_index("metric")
    ndcg, hr = at10.loc["ndcg"], at10.loc["hitrate"]
    fr = getattr(model, "fit_result", None)
    epochs = fr.epochs if fr is not None else None
    per_epoch = float(np.mean([h["seconds"] for h in fr.history])) if fr is not None else None
    if fr is not None and fr.best_value is not None:
        val = float(fr.best_value)  # validation NDCG@10 of the epoch kept
    return {
        "model": name,
        "config": chosen,
        "val_ndcg@10": val,
        "ndcg@10": float(ndcg.value),
        "ndcg_ci": [float(ndcg.ci_low), float(ndcg.ci_high)],
        "hr@10": float(hr.value),
        "hr_ci": [float(hr.ci_low), float(hr.ci_high)],
        "with_validation_ndcg@10": with_validation_history(store, did, split, data, model),
        "fit_s": fit_s,
        "epochs": epochs,
        "best_epoch": fr.best_epoch if fr is not None else None,
        "s_per_epoch": per_epoch,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "test_users": int(result.info["test_users"]),
    }


def with_validation_history(store: Store, did: int, split: int, data, model) -> float:
    """NDCG@10 when each test history also holds the validation event (information)."""
    a = store.coded_interactions(did, split)
    known = a["fold"] < 2
    indptr, items = ordered_histories(
        a["user"][known], a["item"][known], a["ts"][known], len(a["user_ids"])
    )
    recency = recency_matrix(indptr, items, len(a["item_ids"]))
    users = np.flatnonzero(np.diff(data.test.indptr) > 0)
    scores = np.asarray(model.score_in_order(data.seen[users], recency[users]), dtype=np.float32)
    mask_items(scores, data.seen[users])
    hits = hit_matrix(top_k(scores, 10)[0], data.test[users])
    return float(
        ranking_metrics(hits, np.diff(data.test.indptr)[users], (10,))[("ndcg", 10)].mean()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml-100k", help="comma-separated, run in turn")
    parser.add_argument("--dataset", help="one dataset (the same as --datasets with one name)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--config", default="{}", help="JSON config overrides per model name")
    parser.add_argument("--items", action="store_true", help="store the item metadata too")
    parser.add_argument("--out", type=Path, help="append one JSON line per finished model")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = json.loads(args.config)
    names = [args.dataset] if args.dataset else [d.strip() for d in args.datasets.split(",")]
    if args.one:
        row = run_one(names[0], args.one, overrides.get(args.one, {}), args.items)
        print("RESULT " + json.dumps(row))
        return
    for dataset in names:
        bench_dataset(dataset, args.models.split(","), args.config, args.out, args.items)


def bench_dataset(
    dataset: str, models: list[str], config: str, out: Path | None, items: bool = False
) -> None:
    """Every model on one dataset, each in its own process; the table and the goals."""
    if load(dataset) is None:
        print(f"skipped: {dataset} not found in {DATA}")
        return
    rows = []
    for name in models:
        cmd = [sys.executable, __file__, "--dataset", dataset, "--one", name]
        cmd += ["--config", config] + (["--items"] if items else [])
        out_run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [x for x in out_run.stdout.splitlines() if x.startswith("RESULT ")]
        if not lines:
            print(f"{name} failed:\n{out_run.stderr[-2000:]}", flush=True)
            continue
        r = json.loads(lines[-1][7:])
        rows.append(r)
        if out is not None:
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"dataset": dataset, **r}) + "\n")
        print(f"{name}: {json.dumps(r)}", flush=True)
    table = pd.DataFrame(
        {
            "model": [f"{r['model']} {json.dumps(r['config'])}" for r in rows],
            "val ndcg@10": [
                "" if r["val_ndcg@10"] is None else f"{r['val_ndcg@10']:.4f}" for r in rows
            ],
            "ndcg@10": [f"{r['ndcg@10']:.4f}" for r in rows],
            "ndcg 95% CI": [f"[{r['ndcg_ci'][0]:.4f}, {r['ndcg_ci'][1]:.4f}]" for r in rows],
            "hr@10": [f"{r['hr@10']:.4f}" for r in rows],
            "hr 95% CI": [f"[{r['hr_ci'][0]:.4f}, {r['hr_ci'][1]:.4f}]" for r in rows],
            "ndcg@10 +val hist": [f"{r['with_validation_ndcg@10']:.4f}" for r in rows],
            "fit_s": [f"{r['fit_s']:.1f}" for r in rows],
            "epochs (best)": [
                "" if r["epochs"] is None else f"{r['epochs']} ({r['best_epoch']})" for r in rows
            ],
            "s/epoch": [
                "" if r["s_per_epoch"] is None else f"{r['s_per_epoch']:.2f}" for r in rows
            ],
            "peak RSS MB": [f"{r['peak_rss_mb']:.0f}" for r in rows],
        }
    )
    users = rows[0]["test_users"] if rows else 0
    print(f"\n{dataset} leave-last-1, {users} test users")
    print(table.to_string(index=False))
    by = {r["model"]: r["ndcg@10"] for r in rows}
    if "sasrec" in by:
        best = max((by[m] for m in ("ease", "itemknn", "two_tower") if m in by), default=None)
        if best:
            print(
                f"sasrec / best of EASE, Item-kNN, two_tower: {by['sasrec'] / best:.2f} "
                "(goal ≥ 1.15)"
            )
        if "transitions" in by:
            print(f"sasrec / transitions: {by['sasrec'] / by['transitions']:.2f} (goal ≥ 1.00)")
    if "gru4rec" in by and "two_tower" in by:
        print(f"gru4rec / two_tower: {by['gru4rec'] / by['two_tower']:.2f} (goal ≥ 1.00)")


if __name__ == "__main__":
    main()
