"""Quality benchmark of the Keras models (issue 4), next to EASE and Popularity.

Protocol (as ``bench/quality.py``): random per-user split, 20% test, seed 42, every rating a
positive, full ranking over the catalogue with training items excluded, NDCG@10 over test
users (``recsys_engine.evaluation``). Epochs are chosen by early stopping on a validation
fold carved from train (a second split with the same seed, whose test fold is identical);
the model is then refit on the whole training fold for that many epochs and evaluated once on
the test fold. EASE uses its l2 tuned the same way. Cold items: a ``cold-items`` split (20% of
items held out with all their interactions); only content-aware models can rank them.
Data is read from ../shared/data (never copied).

    .venv/bin/python bench/quality_keras.py [--datasets ml-latest-small,ml-100k,lastfm]
        [--models two_tower,hybrid,content,neumf,mf_explicit] [--no-cold]
        [--config '{"two_tower": {"dim": 512}}']   # config overrides per model (tuning)
        [--refit-epochs 40,56,72]   # robustness: test NDCG@10 of refits for these epoch
                                    # counts, after the tuned row (never used to choose)

``--models`` also takes the variants of ``VARIANTS`` (``mult_dae`` = ``mult_vae`` with
``kind="dae"``). Each row reports the refit's seconds per epoch and the process's peak
resident memory so far (``peak_rss_mb``; run one model per process to read its own).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

from recsys_engine.evaluation import EvalOptions, evaluate, load_split_data  # noqa: E402
from recsys_engine.models import create_model, get_model  # noqa: E402
from recsys_engine.shelf import new_arrivals  # noqa: E402
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402

EASE_L2 = (50.0, 100.0, 200.0, 400.0, 800.0)
#: Per-dataset config overrides (what the defaults would not fit).
OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {}
#: Benchmark names for a registered model with a setting changed (label → model, config).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {"mult_dae": ("mult_vae", {"kind": "dae"})}


def interactions(name: str) -> tuple[pd.DataFrame, str]:
    """Interactions frame and feedback kind (the loader of bench/quality.py)."""
    sys.path.insert(0, str(REPO / "bench"))
    from quality import load

    return load(name)


def items_frame(name: str) -> pd.DataFrame | None:
    """Item metadata shaped like the ``items`` table (title, text, categories, numeric)."""
    if name == "ml-latest-small":
        movies = pd.read_csv(DATA / name / "movies.csv")
        tags = pd.read_csv(DATA / name / "tags.csv")
        text = tags.groupby("movieId")["tag"].apply(lambda s: " ".join(s.astype(str)))
        years = movies.title.str.extract(r"\((\d{4})\)\s*$")[0]
        return pd.DataFrame(
            {
                "item_id": movies.movieId.astype(str),
                "title": movies.title,
                "text": movies.movieId.map(text).fillna(""),
                "categories": [
                    [g for g in s.split("|") if g != "(no genres listed)"] for s in movies.genres
                ],
                "numeric": [None if pd.isna(y) else f'{{"year": {y}}}' for y in years],
            }
        )
    if name == "ml-100k":
        cols = ["item_id", "title", "date", "video", "url"] + [f"g{i}" for i in range(19)]
        raw = pd.read_csv(DATA / name / "u.item", sep="|", names=cols, encoding="latin-1")
        genres = [
            line.split("|")[0]
            for line in (DATA / name / "u.genre").read_text(encoding="latin-1").splitlines()
            if line
        ]
        flags = raw[[f"g{i}" for i in range(19)]].to_numpy()
        years = pd.to_datetime(raw.date, format="%d-%b-%Y", errors="coerce").dt.year
        return pd.DataFrame(
            {
                "item_id": raw.item_id.astype(str),
                "title": raw.title.fillna(""),
                "text": "",
                "categories": [[genres[j] for j in np.flatnonzero(r)] for r in flags],
                "numeric": [None if pd.isna(y) else f'{{"year": {int(y)}}}' for y in years],
            }
        )
    if name == "lastfm":
        base = DATA / "hetrec2011-lastfm-2k"
        artists = pd.read_csv(base / "artists.dat", sep="\t", encoding="latin-1")
        tags = pd.read_csv(base / "tags.dat", sep="\t", encoding="latin-1")
        tagged = pd.read_csv(base / "user_taggedartists.dat", sep="\t", encoding="latin-1")
        tagged = tagged.merge(tags, on="tagID")
        text = tagged.groupby("artistID")["tagValue"].apply(
            lambda s: " ".join(re.sub(r"\s+", "_", str(t)) for t in s)
        )
        return pd.DataFrame(
            {
                "item_id": artists.id.astype(str),
                "title": artists.name.astype(str),
                "text": artists.id.map(text).fillna(""),
                "categories": [[] for _ in artists.id],
                "numeric": None,
            }
        )
    return None


class Bench:
    """One dataset in an in-memory store with its final, tuning and cold-items splits."""

    def __init__(self, store: Store, name: str, cold: bool = True):
        frame, feedback = interactions(name)
        self.name = name
        self.items = items_frame(name)
        self.did = store.create_dataset_from_frames(name, frame, feedback=feedback)
        self.store = store
        self.final = create_split(store, self.did, SplitConfig(test_fraction=0.2, seed=42))
        self.tuning = create_split(
            store, self.did, SplitConfig(test_fraction=0.2, seed=42, validation_fraction=0.1)
        )
        self.cold = None
        if cold:
            self.cold = create_split(
                store, self.did, SplitConfig(strategy="cold-items", test_fraction=0.2, seed=42)
            )

    def data(self, split_id: int):
        d = load_split_data(self.store, split_id)
        d.train.items = self.items
        return d


def fit_eval(
    model_name: str, config: dict[str, Any], data, *, test=None
) -> tuple[Any, dict[str, float], float]:
    """Fit on ``data.train``; (model, metric dict, fit seconds) on ``data`` (or ``test``)."""
    model = create_model(model_name, config)
    t0 = time.perf_counter()
    model.fit(data.train)
    seconds = time.perf_counter() - t0
    result = evaluate(model, test or data, EvalOptions(ks=(10,)))
    return model, result.metric_dict(), seconds


def tuned_run(bench: Bench, model_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Early stopping on the tuning split's validation fold, refit with the best epoch
    count on the final split, evaluate on its test fold."""
    model_name, variant = VARIANTS.get(model_name, (model_name, {}))
    config = {**variant, **config}
    tune = bench.data(bench.tuning)
    model = create_model(model_name, config)
    t0 = time.perf_counter()
    model.fit(tune.train)
    tune_s = time.perf_counter() - t0
    best = max(1, model.fit_result.best_epoch)
    final_cfg = {**config, "epochs": best, "patience": 0}
    if model_name == "mf_explicit":
        final_cfg["holdout"] = 0.0  # the refit trains on every training rating
    data = bench.data(bench.final)
    data.train.validation = None
    model, metrics, seconds = fit_eval(model_name, final_cfg, data)
    return {
        "model": model,
        "metrics": metrics,
        "fit_s": seconds,
        "epochs": best,
        "tune_s": tune_s,
        "val": model.fit_result.best_value,
    }


def best_ease_l2(view) -> tuple[float, float]:
    """(l2, NDCG@10) of the best EASE over ``EASE_L2`` on ``view``'s test fold (a
    validation view: the test fold is never what l2 is picked on)."""
    scores = {l2: fit_eval("ease", {"l2": l2}, view)[1]["ndcg@10"] for l2 in EASE_L2}
    best = max(scores, key=scores.get)
    return best, scores[best]


def ease_run(bench: Bench) -> dict[str, Any]:
    best, _ = best_ease_l2(bench.data(bench.tuning).validation_view())
    _, metrics, seconds = fit_eval("ease", {"l2": best}, bench.data(bench.final))
    return {"metrics": metrics, "fit_s": seconds, "l2": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ml-latest-small,ml-100k,lastfm")
    parser.add_argument("--models", default="two_tower,hybrid,content,neumf,mf_explicit")
    parser.add_argument("--no-cold", action="store_true")
    parser.add_argument(
        "--cold-only", action="store_true", help="only the cold-items rows (and the shelf)"
    )
    parser.add_argument("--config", default="{}", help="JSON: model name → config overrides")
    parser.add_argument(
        "--refit-epochs", default="", help="comma-separated epoch counts to refit and report"
    )
    args = parser.parse_args()
    extra = json.loads(args.config)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RECSYS_ARTEFACTS"] = str(Path(tmp) / "artefacts")
        store = Store(":memory:")
        for name in args.datasets.split(","):
            bench = Bench(store, name, cold=not args.no_cold)
            if args.cold_only:
                rows += cold_rows(bench, args.models.split(","))
                continue
            ease = ease_run(bench)
            _, pop, pop_s = fit_eval("popularity", {}, bench.data(bench.final))
            rows.append(_row(name, f"ease (l2={ease['l2']:g})", ease["metrics"], ease["fit_s"]))
            rows.append(_row(name, "popularity", pop, pop_s))
            for model_name in args.models.split(","):
                if model_name == "mf_explicit" and name == "lastfm":
                    continue
                config = {
                    **OVERRIDES.get(name, {}).get(model_name, {}),
                    **extra.get(model_name, {}),
                }
                r = tuned_run(bench, model_name, config)
                rows.append(_row(name, model_name, r["metrics"], r["fit_s"], r["epochs"]))
                print(rows[-1], flush=True)
                for epochs in [int(e) for e in args.refit_epochs.split(",") if e]:
                    data = bench.data(bench.final)
                    data.train.validation = None
                    refit = {**config, "epochs": epochs, "patience": 0}
                    _, metrics, seconds = fit_eval(model_name, refit, data)
                    label = f"{model_name} (refit {epochs} epochs)"
                    rows.append(_row(name, label, metrics, seconds, epochs))
                    print(rows[-1], flush=True)
            if bench.cold is not None:
                rows += cold_rows(bench, args.models.split(","))
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False))


def cold_rows(bench: Bench, models: list[str]) -> list[dict[str, Any]]:
    """The cold-items split (test items have no training interactions): NDCG@10 of the
    all-items ranking, and Recall@20 of the new-arrivals shelf (only the new items ranked)
    next to a random shelf's expected Recall@20, min(20, m) / m for m new items."""
    rows = []
    data = bench.data(bench.cold)
    m = len(new_arrivals(data))
    print(f"{bench.name} cold-items: {m} new items; random shelf Recall@20 = {min(20, m) / m:.4f}")
    for model_name in ["popularity"] + [m for m in models if m in ("content", "hybrid")]:
        if model_name != "popularity" and bench.items is None:
            continue
        # the defaults a run gets on this kind of split (as ``runs.check_run`` gives them)
        config = get_model(model_name).config_class.for_split("cold-items")
        model = create_model(model_name, config)
        t0 = time.perf_counter()
        model.fit(data.train)
        seconds = time.perf_counter() - t0
        metrics = evaluate(model, data, EvalOptions(ks=(10, 20))).metric_dict()
        row = _row(bench.name + " cold-items", model_name, metrics, seconds)
        row["shelf_recall@20"] = round(metrics["shelf_recall@20"], 4)
        row["vs_random_shelf"] = round(metrics["shelf_recall@20"] / (min(20, m) / m), 2)
        rows.append(row)
        print(rows[-1], flush=True)
    return rows


def _row(
    dataset: str, model: str, metrics: dict[str, float], fit_s: float, epochs: int | None = None
) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "model": model,
        "ndcg@10": round(metrics["ndcg@10"], 4),
        "recall@10": round(metrics["recall@10"], 4),
        "rmse": None if metrics.get("rmse") is None else round(metrics["rmse"], 4),
        "fit_s": round(fit_s, 2),
        "epochs": epochs,
        "s_per_epoch": None if not epochs else round(fit_s / epochs, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


if __name__ == "__main__":
    main()
