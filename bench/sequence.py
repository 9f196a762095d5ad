"""Sequence benchmark (issue 18): the order-aware reference ``transitions`` against EASE.

Protocol: leave-last-1 split of ml-100k (per user, the last interaction is test, the one
before it validation), every interaction positive, full ranking over the catalogue with
training (and validation) items excluded; NDCG@10 and HR@10 over test users with 95% CIs.
EASE's l2 and transitions' ``n_last`` are each chosen on the validation fold (nothing on
test); the issue's reference (transitions 0.101 vs EASE 0.072 NDCG@10) is printed beside
our figures. Data is read from ../shared/data (never copied); a missing dataset is skipped.

The app scores a test user from their training fold only, so on leave-last-1 the event
just before the test event (the validation one) is not in the history. A last line shows,
for information only, transitions fitted the same way but scoring histories that include
the validation event (the usual SASRec protocol) — what that protocol choice is worth.

    .venv/bin/python bench/sequence.py
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

REFERENCE = {"transitions": 0.101, "ease": 0.072}
GRIDS = {
    "ease": [{"l2": v} for v in (50.0, 100.0, 200.0, 400.0, 800.0)],
    "transitions": [{"n_last": n} for n in (1, 2, 3, 5, 8)],
}


def load_ml100k() -> pd.DataFrame | None:
    """ml-100k interactions (user_id, item_id, rating, ts), or None when absent."""
    path = DATA / "ml-100k" / "u.data"
    if not path.exists():
        return None
    df = pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "ts"])
    return pd.DataFrame(
        {
            "user_id": df.user_id.astype(str),
            "item_id": df.item_id.astype(str),
            "rating": df.rating.astype(float),
            "ts": pd.to_datetime(df.ts, unit="s"),
        }
    )


def main() -> None:
    frame = load_ml100k()
    if frame is None:
        print(f"skipped: ml-100k not found in {DATA}")
        return
    store = Store(":memory:")
    did = store.create_dataset_from_frames("ml-100k", frame, feedback="explicit")
    split = create_split(
        store, did, SplitConfig(strategy="leave-last", n_last=1, validation_last=1)
    )
    data = load_split_data(store, split)
    valid = data.validation_view()
    opts = EvalOptions(ks=(10,))
    rows = []
    for name, grid in GRIDS.items():
        scores = {}
        for config in grid:
            model = create_model(name, config).fit(valid.train)
            scores[str(config)] = evaluate(model, valid, opts).metric_dict()["ndcg@10"]
        best = max(grid, key=lambda c: scores[str(c)])
        print(
            f"{name}: validation NDCG@10 "
            + ", ".join(f"{k}={v:.4f}" for k, v in scores.items())
            + f" -> {best}",
            flush=True,
        )
        t0 = time.perf_counter()
        model = create_model(name, best).fit(data.train)
        fit_s = time.perf_counter() - t0
        result = evaluate(model, data, opts)
        table = result.metrics_frame()
        at10 = table[table["k"] == 10].set_index("metric")
        ndcg, hr = at10.loc["ndcg"], at10.loc["hitrate"]
        rows.append(
            {
                "model": f"{name} {best}",
                "ndcg@10": round(float(ndcg.value), 4),
                "ndcg 95% CI": f"[{ndcg.ci_low:.4f}, {ndcg.ci_high:.4f}]",
                "hr@10": round(float(hr.value), 4),
                "reference ndcg@10": REFERENCE[name],
                "fit_s": round(fit_s, 2),
                "eval_s": round(result.info["seconds"], 2),
            }
        )
    print(f"\nml-100k leave-last-1, {result.info['test_users']} test users")
    print(pd.DataFrame(rows).to_string(index=False))
    # information only: histories that include the validation event
    a = store.coded_interactions(did, split)
    known = a["fold"] < 2
    indptr, items = ordered_histories(
        a["user"][known], a["item"][known], a["ts"][known], len(a["user_ids"])
    )
    recency = recency_matrix(indptr, items, len(a["item_ids"]))
    users = np.flatnonzero(np.diff(data.test.indptr) > 0)
    scores = model.score_in_order(data.seen[users], recency[users])
    mask_items(scores, data.seen[users])
    hits = hit_matrix(top_k(scores, 10)[0], data.test[users])
    ndcg = ranking_metrics(hits, np.diff(data.test.indptr)[users], (10,))[("ndcg", 10)]
    print(
        f"information: transitions {best} scoring histories that include the validation "
        f"event: NDCG@10 {ndcg.mean():.4f}"
    )


if __name__ == "__main__":
    main()
