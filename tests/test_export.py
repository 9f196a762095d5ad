"""Exports: formula escaping, model zip, CLI command."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd

from recsys_engine import export


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


def test_cli_command_quotes_config():
    run = {"dataset_id": 1, "split_id": 2, "model": "ease", "config": {"l2": 100.0}}
    cmd = export.cli_command(run)
    assert cmd == (
        "python -m recsys_engine train 1 --split 2 --model ease --config '{\"l2\": 100.0}'"
    )
