"""Does ``bench/quality_keras.py``'s refit serve a model, checked without the test fold (issue 18).

``quality_keras.py`` picks the epoch count by early stopping on a validation fold carved from
train, then refits on the whole training fold for that many epochs. The alternative keeps the
early-stopped model and scores test users from their whole training history (an
autoencoder or a history-pooled tower reads any history). Which serves a model better is
measured here one level down, so the test fold is never read:

- outer: train = the tuning split's training fold (70%), "test" = its validation fold (10%);
- inner: 1/7 of each user's outer-train interactions (seed 0) held out as validation;
- **refit**: early stopping on the inner fold, refit on outer train for the best epoch
  count, scored on the outer fold (the benchmark's protocol);
- **no refit**: the inner early-stopped model, scored on the outer fold from the users'
  outer-train histories.

EASE (l2 picked on the inner fold, fit on outer train) is the reference row.

    .venv/bin/python bench/refit_protocol.py [--dataset ml-latest-small] [--model mult_vae]
        [--config '{}'] [--seeds 42,1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_keras import Bench, best_ease_l2, fit_eval  # noqa: E402

from recsys_engine.evaluation import EvalOptions, evaluate  # noqa: E402
from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402
from recsys_engine.split_data import SplitData  # noqa: E402
from recsys_engine.store import Store  # noqa: E402


def hold_out(matrix: sp.csr_matrix, share: float, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(kept, held out): round(share · n_u) random entries of each user with at least 2,
    held out; a user whose share rounds to 0 keeps everything."""
    rng = np.random.default_rng(seed)
    coo = matrix.tocoo()  # rows in CSR order, so row u's entries are indptr[u]:indptr[u + 1]
    held = np.zeros(coo.nnz, dtype=bool)
    for u in range(matrix.shape[0]):
        lo, hi = matrix.indptr[u], matrix.indptr[u + 1]
        k = int(round((hi - lo) * share))
        if hi - lo >= 2 and k >= 1:
            held[lo + rng.choice(hi - lo, k, replace=False)] = True

    def part(mask: np.ndarray) -> sp.csr_matrix:
        out = sp.csr_matrix(
            (coo.data[mask], (coo.row[mask], coo.col[mask])), shape=matrix.shape
        )
        out.sort_indices()
        return out

    return part(~held), part(held)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--model", default="mult_vae")
    parser.add_argument("--config", default="{}", help="JSON config of the model")
    parser.add_argument("--seeds", default="42,1,2")
    args = parser.parse_args()
    config = json.loads(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RECSYS_ARTEFACTS"] = str(Path(tmp) / "artefacts")
        bench = Bench(Store(":memory:"), args.dataset, cold=False)
        tune = bench.data(bench.tuning)
        outer_matrix, outer_test = tune.train.matrix.tocsr(), tune.train.validation
        inner_matrix, inner_val = hold_out(outer_matrix, 1 / 7, seed=0)
        ids = {"user_ids": tune.train.user_ids, "item_ids": tune.train.item_ids}
        inner = TrainData(matrix=inner_matrix, validation=inner_val, **ids)
        outer = SplitData(train=TrainData(matrix=outer_matrix, **ids), seen=outer_matrix,
                          test=outer_test)  # fmt: skip
        inner_view = SplitData(train=TrainData(matrix=inner_matrix, **ids), seen=inner_matrix,
                               test=inner_val)  # fmt: skip
        l2, _ = best_ease_l2(inner_view)
        ease = fit_eval("ease", {"l2": l2}, outer)[1]["ndcg@10"]
        print(f"EASE (l2={l2:g}, picked on the inner fold): {ease:.4f}", flush=True)
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            cfg = {**config, "seed": seed}
            model = create_model(args.model, cfg)
            model.fit(inner)
            best = max(1, model.fit_result.best_epoch)
            kept = SplitData(train=inner, seen=outer_matrix, test=outer_test, history=outer_matrix)
            no_refit = evaluate(model, kept, EvalOptions(ks=(10,))).metric_dict()["ndcg@10"]
            refit = fit_eval(args.model, {**cfg, "epochs": best, "patience": 0}, outer)[1]
            print(
                f"seed {seed}: inner best epoch {best}; refit {refit['ndcg@10']:.4f} "
                f"({refit['ndcg@10'] / ease:.3f}× EASE); no refit {no_refit:.4f} "
                f"({no_refit / ease:.3f}× EASE)",
                flush=True,
            )


if __name__ == "__main__":
    main()
