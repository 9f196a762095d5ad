"""CLI split/splits/train/runs/evaluate/export through ``recsys_engine.cli.main``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys_engine.cli import main
from recsys_engine.store import Store


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.duckdb"
    rng = np.random.default_rng(0)
    rows = []
    for u in range(25):
        for i in rng.choice(30, size=int(rng.integers(5, 12)), replace=False):
            rows.append(
                (
                    f"u{u}",
                    f"i{i}",
                    float(rng.integers(1, 6)),
                    pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 300))),
                )
            )
    rows.append(("u0", '=HYPERLINK("x")', 5.0, pd.Timestamp("2022-02-01")))
    store = Store(path)
    store.create_dataset_from_frames(
        "toy", pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "ts"])
    )
    store.close()
    return str(path)


def run(capsys, db, *argv):
    code = main(["--db", db, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, db, *argv):
    code, out, err = run(capsys, db, *argv, "--json")
    assert code == 0, err
    return json.loads(out), err


def test_split_train_evaluate_runs_export(capsys, db, tmp_path):
    split, err = run_json(
        capsys,
        db,
        "split",
        "toy",
        "--strategy",
        "random",
        "--seed",
        "7",
        "--test-fraction",
        "0.25",
        "--validation-fraction",
        "0.1",
    )
    assert "random split on timestamped data" in err
    stats = split["stats"]
    assert (
        stats["train_rows"] + stats["validation_rows"] + stats["test_rows"] == stats["interactions"]
    )
    assert split["seed"] == 7 and split["params"]["test_fraction"] == 0.25

    listing, _ = run_json(capsys, db, "splits", "toy")
    assert [s["split_id"] for s in listing["splits"]] == [split["split_id"]]

    trained, _ = run_json(
        capsys,
        db,
        "train",
        "toy",
        "--split",
        split["name"],
        "--model",
        "ease",
        "--config",
        '{"l2": 20.0}',
    )
    assert trained["status"] == "succeeded"
    assert trained["config"] == {"l2": 20.0, "solver": "auto", "binary": True}
    for key in (
        "ndcg@10",
        "recall@5",
        "map@20",
        "precision@10",
        "mrr@10",
        "hitrate@10",
        "coverage@10",
        "novelty@10",
    ):
        assert 0 <= trained["metrics"][key] <= (100 if key.startswith("novelty") else 1)
    run_id = trained["run_id"]

    runs, _ = run_json(capsys, db, "runs", "toy")
    assert runs["runs"][0]["run_id"] == run_id
    assert runs["runs"][0]["ndcg@10"] == pytest.approx(trained["metrics"]["ndcg@10"])

    evaluated, _ = run_json(capsys, db, "evaluate", str(run_id), "--k", "3,7")
    assert set(evaluated["metrics"]) >= {"ndcg@3", "ndcg@7"}
    assert "ndcg@10" not in evaluated["metrics"]

    for what, ext in (("recommendations", "csv"), ("metrics", "parquet"), ("user-metrics", "csv")):
        out = tmp_path / f"{what}.{ext}"
        result, _ = run_json(
            capsys, db, "export", "--run", str(run_id), "--what", what, "--out", str(out)
        )
        frame = pd.read_csv(out) if ext == "csv" else pd.read_parquet(out)
        assert len(frame) == result["rows"] > 0
    recs = pd.read_csv(tmp_path / "recommendations.csv")
    assert set(recs.columns) == {"user_id", "rank", "item_id", "score"}
    sizes = recs.groupby("user_id").size()  # lists keep RECOMMENDATION_DEPTH (50) or all left
    assert ((sizes >= 7) & (sizes <= 50)).all()

    out = tmp_path / "split.csv"
    result, _ = run_json(capsys, db, "export", "--split", str(split["split_id"]), "--out", str(out))
    exported = pd.read_csv(out)
    assert len(exported) == stats["interactions"]
    # the formula-looking item id is escaped with a leading apostrophe
    assert '\'=HYPERLINK("x")' in set(exported.item_id)
    assert set(exported.fold) == {"train", "validation", "test"}


def test_text_output_and_other_strategies(capsys, db):
    for argv in (
        ["--strategy", "temporal", "--test-fraction", "0.2"],
        ["--strategy", "leave-last", "--n-last", "2"],
        ["--strategy", "cold-items", "--test-fraction", "0.2"],
        ["--strategy", "temporal", "--cut-date", "2022-09-01", "--name", "cut"],
    ):
        code, out, err = run(capsys, db, "split", "toy", *argv)
        assert code == 0, err
        assert out.startswith("split ")
    code, out, err = run(
        capsys, db, "train", "toy", "--split", "cut", "--model", "popularity", "--k", "5"
    )
    assert code == 0, err
    assert "ndcg@5" in out
    code, out, _ = run(capsys, db, "runs")
    assert "popularity" in out and "succeeded" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["split", "nope"], "no dataset"),
        (["split", "toy", "--test-fraction", "2"], "test_fraction"),
        (["train", "toy", "--split", "99", "--model", "ease"], "no split"),
        (["evaluate", "42"], "no run with id 42"),
        (["evaluate", "abc"], "run must be a numeric id"),
        (["export", "--run", "1", "--out", "x.xlsx"], ".csv or .parquet"),
    ],
)
def test_errors_exit_1_with_one_line(capsys, db, argv, message):
    code, out, err = run(capsys, db, *argv)
    assert code == 1
    assert message in err
    assert err.count("\n") == 1 and err.startswith("error: ")


def test_train_errors(capsys, db):
    split, _ = run_json(capsys, db, "split", "toy")
    sid = str(split["split_id"])
    cases = [
        (["--model", "nope"], "unknown model"),
        (["--model", "ease", "--config", "{bad"], "not valid JSON"),
        (["--model", "ease", "--config", "[1]"], "JSON object"),
        (["--model", "ease", "--config", '{"lambda": 3}'], "unknown config key"),
        (["--model", "ease", "--k", "5,x"], "--k"),
    ]
    for argv, message in cases:
        code, _, err = run(capsys, db, "train", "toy", "--split", sid, *argv)
        assert code == 1 and message in err, (argv, err)
    code, _, err = run(capsys, db, "export", "--run", "1", "--out", "x.csv")
    assert code == 1  # no such run, or --what missing
