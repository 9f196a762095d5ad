"""CLI ``compare RUN_A RUN_B --json`` returns the numbers of ``compare_runs``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys_engine.cli import main
from recsys_engine.compare import CompareOptions, compare_runs
from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli_cmp") / "db.duckdb"
    rng = np.random.default_rng(2)
    pop = 1.0 / np.arange(1, 41)
    rows = [
        (f"u{u}", f"i{i}")
        for u in range(80)
        for i in rng.choice(40, size=int(rng.integers(4, 15)), replace=False, p=pop / pop.sum())
    ]
    store = Store(path)
    did = store.create_dataset_from_frames(
        "toy", pd.DataFrame(rows, columns=["user_id", "item_id"]), feedback="implicit"
    )
    sid = create_split(store, did, SplitConfig(test_fraction=0.25, seed=1))
    other = create_split(store, did, SplitConfig(test_fraction=0.3, seed=2))
    ids = [run_model(store, sid, m) for m in ("popularity", "ease")]
    ids.append(run_model(store, other, "popularity"))
    store.close()
    return str(path), ids


def test_compare_json_matches_the_engine(capsys, db, tmp_path):
    path, (pop, ease, _) = db
    report = tmp_path / "r.html"
    code = main(
        [
            "--db",
            path,
            "compare",
            str(pop),
            str(ease),
            "--secondary",
            "recall@10",
            "--resamples",
            "2000",
            "--report",
            str(report),
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["run_a"]["id"] == pop and doc["run_b"]["id"] == ease
    assert doc["verdict"] in ("Better", "Worse", "Neutral", "Inconclusive")
    assert [s["metric"] for s in doc["secondary"]] == ["recall@10"]
    assert doc["report_path"] == str(report) and report.read_text().startswith("<!DOCTYPE html>")
    store = Store(path, read_only=True)
    try:
        ref = compare_runs(
            store, pop, ease, CompareOptions(secondary=("recall@10",), n_resamples=2000)
        )
    finally:
        store.close()
    for key in ("mean_a", "mean_b", "diff", "ci_low", "ci_high", "rel_ci_low", "p_value"):
        assert doc["primary"][key] == pytest.approx(getattr(ref.primary, key)), key
    assert doc["sentence"] == ref.sentence
    assert doc["decision"] == ref.decision.to_dict()
    assert doc["decision"]["kind"] in ("switch", "keep", "no_difference", "trade_off")
    assert sum(s["users"] for s in doc["segments"] if s["family"] == "Cold start") == ref.primary.n


def test_compare_text_and_refusal(capsys, db):
    path, (pop, ease, elsewhere) = db
    assert main(["--db", path, "compare", str(pop), str(ease), "--resamples", "500"]) == 0
    out, _ = capsys.readouterr()
    assert "NDCG@10" in out and "guardrail Coverage@10" in out
    store = Store(path, read_only=True)
    try:
        decision = compare_runs(store, pop, ease, CompareOptions(n_resamples=500)).decision
    finally:
        store.close()
    first, second = out.splitlines()[:2]
    assert first == f"Decision: {decision.sentence}"
    assert second.strip() == decision.detectable
    assert main(["--db", path, "compare", str(pop), str(elsewhere)]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("error: ") and "same split" in err and len(err.splitlines()) == 1
    assert main(["--db", path, "compare", str(pop), str(ease), "--primary", "ndcg"]) == 1
    _, err = capsys.readouterr()
    assert "ndcg@10" in err
