"""CLI ``tune`` and the tuning budget in ``runs --json``."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from recsys_engine.cli import main
from recsys_engine.store import Store


@pytest.fixture(autouse=True)
def _artefacts(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_ARTEFACTS", str(tmp_path / "artefacts"))


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.duckdb"
    rng = np.random.default_rng(0)
    rows = [
        (f"u{u}", f"i{i}", 1.0)
        for u in range(30)
        for i in rng.choice(np.arange(u % 2, 30, 2), size=8, replace=False)
    ]
    store = Store(path)
    store.create_dataset_from_frames(
        "toy", pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    )
    store.close()
    return str(path)


def run(capsys, db, *argv):
    code = main(["--db", db, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def split(capsys, db, validation: str) -> int:
    code, out, err = run(
        capsys, db, "split", "toy", "--strategy", "random", "--seed", "1",
        "--validation-fraction", validation, "--json",
    )  # fmt: skip
    assert code == 0, err
    return json.loads(out)["split_id"]


def test_tune_json_then_runs_json_shows_the_budget(capsys, db, tmp_path):
    sid = split(capsys, db, "0.15")
    code, out, err = run(
        capsys, db, "tune", "toy", "--split", str(sid), "--model", "ease", "--trials", "3",
        "--space", '{"l2": [10, 1000], "binary": true}', "--json",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert payload["study"]["name"].startswith(f"ease-split{sid}-")
    assert payload["study"]["storage"] == f"journal:{tmp_path / 'cli.optuna.journal'}"
    assert [t["number"] for t in payload["trials"]] == [0, 1, 2]
    for trial in payload["trials"]:
        assert trial["state"] == "complete"
        assert 10 <= trial["params"]["l2"] <= 1000 and "binary" not in trial["params"]
        assert 0 <= trial["validation_ndcg@10"] <= 1
    assert payload["best_config"]["binary"] is True
    run_id = payload["run_id"]
    assert payload["tuning"]["trials"] == 3

    code, out, err = run(capsys, db, "runs", "toy", "--json")
    assert code == 0, err
    runs = {r["run_id"]: r for r in json.loads(out)["runs"]}
    assert runs[run_id]["tuning"]["trials"] == 3
    assert runs[run_id]["tuning"]["study"] == payload["study"]["name"]
    assert runs[run_id]["config"]["l2"] == pytest.approx(payload["best_config"]["l2"])

    code, out, err = run(capsys, db, "train", "toy", "--split", str(sid), "--model", "popularity")
    assert code == 0, err
    code, out, err = run(capsys, db, "runs", "toy", "--json")
    untuned = [r for r in json.loads(out)["runs"] if r["model"] == "popularity"]
    assert untuned[0]["tuning"] is None


def test_tune_text_output_names_the_study_and_the_run(capsys, db):
    sid = split(capsys, db, "0.15")
    code, out, err = run(
        capsys, db, "tune", "toy", "--split", str(sid), "--model", "itemknn", "--trials", "2"
    )
    assert code == 0, err
    assert "trial   0 complete" in err and "trial   1 complete" in err
    assert "tuned: 2 trials" in out and "test ndcg@10" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trials", "2", "--space", "{bad"], "--space is not valid JSON"),
        (["--trials", "2", "--space", "[1]"], "--space must be a JSON object"),
        (["--trials", "2", "--space", '{"nope": 1}'], "'nope' is not a setting of EASEConfig"),
        ([], "needs a budget"),
        (["--trials", "2", "--workers", "3"], r"workers \(3\) cannot exceed trials \(2\)"),
    ],
)
def test_tune_bad_input_exits_1_with_a_clear_message(capsys, db, argv, message):
    sid = split(capsys, db, "0.15")
    code, out, err = run(capsys, db, "tune", "toy", "--split", str(sid), "--model", "ease", *argv)
    assert code == 1 and out == ""
    assert re.search(message, err), err


def test_tune_refuses_a_split_without_validation(capsys, db):
    sid = split(capsys, db, "0")
    code, _, err = run(
        capsys, db, "tune", "toy", "--split", str(sid), "--model", "ease", "--trials", "2"
    )
    assert code == 1 and "no validation fold" in err
