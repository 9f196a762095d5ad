"""New arrivals in Hybrid and Content: how the popularity prior and the loss treat items
nobody interacted with.

On a cold-items split with a validation fold (the validation items are new too), the model
is fitted once per loss setting: new items trained as negatives of the full softmax
(``new_item_negatives=True``, what both models did before) or left out of it (the
default). Hybrid's prior is inference-only, so both settings of ``new_item_prior`` are
scored from the same fitted towers: ``observed`` (a new item counts as the least popular —
it is buried under every old item) and ``median`` (it counts as a typical item — its
content decides); Content has no popularity prior. Choices are made on the validation fold;
the test fold is reported for information only. Data is read from ../shared/data (never
copied)::

    .venv/bin/python bench/new_items.py [--dataset ml-latest-small] [--model content]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from quality_keras import interactions, items_frame  # noqa: E402

from recsys_engine.evaluation import EvalOptions, evaluate, load_split_data  # noqa: E402
from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402

KEYS = ("ndcg@10", "recall@20", "shelf_recall@20")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--model", default="hybrid", choices=("hybrid", "content"))
    parser.add_argument(
        "--configs",
        help="JSON list of config overrides to compare instead (one fit each), "
        'e.g. \'[{}, {"min_df": 5}]\'',
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RECSYS_ARTEFACTS"] = str(Path(tmp) / "artefacts")
        store = Store(":memory:")
        frame, feedback = interactions(args.dataset)
        did = store.create_dataset_from_frames(args.dataset, frame, feedback=feedback)
        config = SplitConfig(
            strategy="cold-items", test_fraction=0.2, validation_fraction=0.1, seed=42
        )
        sid = create_split(store, did, config)
        data = load_split_data(store, sid)
        data.train.items = items_frame(args.dataset)
        rows = []
        hybrid = args.model == "hybrid"
        opts = EvalOptions(ks=(10, 20))

        def scores(model) -> tuple[dict, dict]:
            val = evaluate(model, data.validation_view(), opts).metric_dict()
            return val, evaluate(model, data, opts).metric_dict()

        if args.configs:
            for overrides in json.loads(args.configs):
                model = create_model(args.model, overrides)
                model.fit(data.train)
                rows.append((json.dumps(overrides), *scores(model)))
        for negatives in (True, False) if not args.configs else ():
            config: dict = {"new_item_negatives": negatives}
            if hybrid:
                config["new_item_prior"] = "observed"
            model = create_model(args.model, config)
            model.fit(data.train)
            for prior in ("observed", "median") if hybrid else ("none",):
                if hybrid:
                    model.config = replace(model.config, new_item_prior=prior)
                    model._set_from_keras(model._keras_model)
                label = f"{'negatives' if negatives else 'left out'} / {prior}"
                rows.append((label, *scores(model)))
        best = max(rows, key=lambda r: (r[1]["shelf_recall@20"], r[1]["ndcg@10"]))[0]
        print(f"{args.dataset} cold-items (validation fold 10%, test 20%), {args.model} defaults:")
        width = max(22, *(len(r[0]) for r in rows))
        head = "config" if args.configs else "new items / prior"
        print(f"{head:<{width}}" + "".join(f"  val {k:<16}" for k in KEYS)
              + "".join(f"  test {k:<15}" for k in KEYS))  # fmt: skip
        for label, val, test in rows:
            cells = [f"  {val.get(k, float('nan')):<20.4f}" for k in KEYS]
            cells += [f"  {test.get(k, float('nan')):<20.4f}" for k in KEYS]
            print(f"{label:<{width}}" + "".join(cells))
        print(f"chosen on validation shelf Recall@20, then NDCG@10: {best}")


if __name__ == "__main__":
    main()
