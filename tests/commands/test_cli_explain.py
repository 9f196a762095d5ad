"""CLI ``recommend RUN (--user U | --history a,b) [--k] [--explain] [--json]``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys_engine.cli import main
from recsys_engine.store import Store


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "cli.duckdb"
    rng = np.random.default_rng(0)
    rows = []
    for u in range(30):
        for i in rng.choice(12, size=6, replace=False) + 12 * (u % 2):
            rows.append((f"u{u}", f"i{i}", 4.0, pd.Timestamp("2022-01-01")))
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(24)],
            "title": [f"Film {i}" for i in range(24)],
            "text": [""] * 24,
            "categories": [["Drama"] if i < 12 else ["Comedy"] for i in range(24)],
        }
    )
    store = Store(path)
    store.create_dataset_from_frames(
        "toy", pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "ts"]), items=items
    )
    store.close()
    assert main(["--db", str(path), "split", "toy", "--seed", "3"]) == 0
    assert main(["--db", str(path), "train", "toy", "--split", "1", "--model", "ease"]) == 0
    return str(path)


def run(capsys, db, *argv):
    code = main(["--db", db, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_recommend_user_with_explanations_as_json(capsys, db):
    code, out, err = run(
        capsys, db, "recommend", "1", "--user", "u0", "--k", "3", "--explain", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["user_id"] == "u0" and doc["model"] == "ease" and len(doc["items"]) == 3
    first = doc["items"][0]
    assert first["rank"] == 1 and first["title"].startswith("Film")
    kinds = {r["kind"]: r for r in first["reasons"]}
    assert kinds["history"]["fidelity"] == "exact"
    assert abs(kinds["history"]["check"]["residual"]) < 1e-4
    assert {"taste", "counterfactual"} <= set(kinds)
    assert isinstance(first["hit"], bool)


def test_recommend_history_text_and_json(capsys, db):
    code, out, err = run(capsys, db, "recommend", "1", "--history", "i0,i1,i2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["history"] == ["i0", "i1", "i2"] and len(doc["items"]) == 10
    assert "reasons" not in doc["items"][0]
    assert all(int(it["item_id"][1:]) < 12 for it in doc["items"][:5])  # the Drama cluster
    code, out, err = run(capsys, db, "recommend", "1", "--history", "i0", "--k", "2", "--explain")
    assert code == 0 and "1. Film" in out and "Because you interacted with" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--user", "ghost"), "unknown user id 'ghost'"),
        (("--history", "i0,nope"), "unknown item id(s) 'nope'"),
        (("--history", " , "), "--history needs at least one item"),
        (("--user", "u0", "--k", "0"), "--k must be a positive integer"),
    ],
)
def test_errors_are_one_line(capsys, db, argv, message):
    code, out, err = run(capsys, db, "recommend", "1", *argv)
    assert code == 1 and out == ""
    assert message in err and err.count("\n") == 1
