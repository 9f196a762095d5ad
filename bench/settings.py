"""A Keras model's settings compared on the validation fold only (issues 14, 18).

Each setting is trained on the training fold of ``bench/quality_keras.py``'s tuning split
(random per-user split, 20% test, 10% validation, seed 42) with early stopping on the
validation fold; the table reports the best (smoothed) validation NDCG@10 and its epoch,
next to EASE's best validation NDCG@10 over the same l2 grid. The test fold is never read:
settings are chosen here, then ``bench/quality_keras.py`` refits the chosen one and reports
test once.

    .venv/bin/python bench/settings.py --dataset ml-latest-small \
        --settings '{"defaults": {}, "dropout 0.2": {"dropout": 0.2}}'
    .venv/bin/python bench/settings.py --model two_tower --no-ease \
        --settings '{"sampled": {"loss": "sampled_softmax"}}'
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_keras import Bench, best_ease_l2  # noqa: E402

from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.store import Store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--model", default="mult_vae", help="registry name of the model")
    parser.add_argument("--settings", required=True, help="JSON: label → model config")
    parser.add_argument("--no-ease", action="store_true", help="skip the EASE reference row")
    args = parser.parse_args()
    settings = json.loads(args.settings)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RECSYS_ARTEFACTS"] = str(Path(tmp) / "artefacts")
        bench = Bench(Store(":memory:"), args.dataset, cold=False)
        tune = bench.data(bench.tuning)
        if not args.no_ease:
            best, value = best_ease_l2(tune.validation_view())
            print(f"EASE (l2={best:g}) val ndcg@10 = {value:.4f}", flush=True)
        for label, config in settings.items():
            model = create_model(args.model, config)
            t0 = time.perf_counter()
            model.fit(tune.train)
            seconds = time.perf_counter() - t0
            r = model.fit_result
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{label}: val ndcg@10 = {r.best_value:.4f} at epoch {r.best_epoch} "
                f"of {r.epochs}; {seconds / r.epochs:.2f} s/epoch; peak RSS {rss:.0f} MB; "
                f"config {json.dumps(config)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
