"""Exports: formula escaping, model zip, CLI command."""

from __future__ import annotations

import io
import json
import shlex
import zipfile

import pandas as pd

from recsys_engine import export
from recsys_engine.models.ease import EASEConfig
from recsys_engine.models.hybrid import HybridConfig
from recsys_engine.models.neumf import NeuMFConfig
from recsys_engine.models.pooled_config import TwoTowerConfig


def test_csv_cells_cannot_start_a_formula():
    df = pd.DataFrame(
        {
            "item_id": ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "ok"],
            "score": [1.0, -2.0, 3.0, 4.0, 5.0],
        }
    )
    text = export.to_csv_bytes(df).decode()
    rows = text.splitlines()[1:]
    assert rows[0].startswith("\"'=cmd") or rows[0].startswith("'=cmd")
    assert rows[1].startswith("'+1") and rows[2].startswith("'-2")
    assert rows[3].startswith("'@SUM") and rows[4].startswith("ok")
    # numbers stay numbers (a negative score is not text)
    assert rows[1].endswith(",-2.0")


def test_model_zip_holds_files_and_run_json(tmp_path):
    (tmp_path / "model.npz").write_bytes(b"abc")
    run = {"id": 7, "dataset_id": 1, "split_id": 2, "model": "ease", "config": {"l2": 1.0}}
    data = export.model_zip(tmp_path, run)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert "run_7/model.npz" in names
        assert json.loads(zf.read("run_7/run.json"))["model"] == "ease"


def test_cli_command_quotes_the_full_config():
    run = {"dataset_id": 1, "split_id": 2, "model": "ease", "config": {"l2": 100.0}}
    cmd = export.cli_command(run)
    words = shlex.split(cmd)
    assert words[:4] == [".venv/bin/python", "-m", "recsys_engine", "train"]
    assert words[4:10] == ["1", "--split", "2", "--model", "ease", "--config"]
    config = json.loads(words[10])
    assert config == EASEConfig(l2=100.0).to_dict()  # every setting, as the run used it
    odd = {"dataset_id": 1, "split_id": 2, "model": "ease", "config": {"l2": "it's"}}
    assert json.loads(shlex.split(export.cli_command(odd))[10]) == {"l2": "it's"}  # as stored


def test_cli_command_names_a_database_other_than_the_default():
    """A run in the app's ``$RECSYS_DB`` database must be retrained there, not in the CLI's
    default file; the default needs no flag."""
    run = {"dataset_id": 1, "split_id": 2, "model": "ease", "config": {"l2": 100.0}}
    words = shlex.split(export.cli_command(run, "/tmp/my shop/recsys.duckdb"))
    assert words[3:6] == ["--db", "/tmp/my shop/recsys.duckdb", "train"]
    assert "--db" not in shlex.split(export.cli_command(run, "data/recsys.duckdb"))


def test_a_stored_config_keeps_how_an_older_run_was_trained():
    """Settings added after a run was stored take the value the run was trained with."""
    old_neumf = {"epochs": 25, "batch_size": 4096, "factors": 64, "l2": 1e-5}
    run = {"dataset_id": 1, "split_id": 2, "model": "neumf", "config": old_neumf}
    config = export.stored_config(run)
    assert config["loss"] == "bce" and config["ema"] == 0.0
    assert config["lr_decay"] == 1.0 and config["smoothing"] == 1 and config["weight_decay"] == 0
    assert config["batch_size"] == 4096 and config["epochs"] == 25
    # today's defaults for a config given now, and explicit values always win
    assert NeuMFConfig.from_dict(old_neumf).loss == "softmax"
    assert NeuMFConfig.from_stored({**old_neumf, "loss": "bpr"}).loss == "bpr"
    tower = TwoTowerConfig.from_stored({"dim": 256})
    assert (tower.ema, tower.lr_decay, tower.smoothing) == (0.0, 1.0, 1)
    assert tower.min_improvement == 0.0 and TwoTowerConfig().min_improvement == 0.005
    assert HybridConfig.from_stored({"dim": 256}).min_improvement == 0.0
    assert TwoTowerConfig.from_stored(TwoTowerConfig().to_dict()) == TwoTowerConfig()
