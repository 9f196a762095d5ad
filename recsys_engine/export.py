"""Exports of a run: recommendations and metrics as CSV/Parquet bytes, the model as a zip,
and the CLI command that repeats the run. CSV cells never start a spreadsheet formula."""

from __future__ import annotations

import io
import json
import shlex
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_engine.errors import RecsysError
from recsys_engine.paths import DEFAULT_DB

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells starting with = + - @ (or tab/CR) with an apostrophe.

    Spreadsheets execute such cells as formulas (CSV injection); numbers are left alone.
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col].astype("string")
            risky = s.str.startswith(FORMULA_PREFIXES).fillna(False)
            out[col] = s.where(~risky, "'" + s)
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Formula-escaped CSV, UTF-8."""
    return escape_formulas(frame).to_csv(index=False).encode("utf-8")


def recommendations_with_titles(recs: pd.DataFrame, items: pd.DataFrame | None) -> pd.DataFrame:
    """A run's top-K lists with each item's title next to its id (user_id, rank, item_id,
    title, score), so an exported list reads without a lookup; the title is blank for an
    item without metadata."""
    titles = (
        items.drop_duplicates("item_id", keep="last").set_index("item_id")["title"]
        if items is not None and len(items) and "title" in items.columns
        else pd.Series(dtype=object)
    )
    out = recs.copy()
    title = out["item_id"].astype(str).map(titles.rename(index=str))
    out.insert(out.columns.get_loc("item_id") + 1, "title", title.fillna("").astype(str))
    return out


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet file contents (types kept, no escaping needed)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def model_zip(artefact_path: str | Path, run: dict[str, Any]) -> bytes:
    """A zip of a run's artefact folder (model files, config, vocabularies) + run.json."""
    folder = Path(artefact_path)
    if not folder.is_dir():
        raise RecsysError(f"the model files of run {run['id']} are missing ({folder})")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"run_{run['id']}/{path.relative_to(folder)}")
        meta = {k: run[k] for k in ("id", "dataset_id", "split_id", "model", "config")}
        zf.writestr(f"run_{run['id']}/run.json", json.dumps(meta, indent=2, default=str))
    return buf.getvalue()


def stored_config(run: dict[str, Any]) -> dict[str, Any]:
    """The full config a run was trained with (``ModelConfig.from_stored``); the raw stored
    dict when its model is no longer registered or the config no longer validates."""
    from recsys_engine.models import get_model

    config = run["config"] if isinstance(run["config"], dict) else json.loads(run["config"])
    try:
        return get_model(run["model"]).config_class.from_stored(config).to_dict()
    except RecsysError:
        return config


def cli_command(run: dict[str, Any], db: str | Path | None = None) -> str:
    """The shell command that trains the same model with the same config on the same split
    (the stored config completed with the settings added since, as the run used them), run
    from the repository's root as the README's commands are. ``db`` is the database the run
    lives in: named with ``--db`` unless it is the CLI's own default, because a shell without
    the app's ``$RECSYS_DB`` would otherwise train in another database."""
    config = stored_config(run)
    where = "" if db is None or Path(db) == DEFAULT_DB else f"--db {shlex.quote(str(db))} "
    return (
        f".venv/bin/python -m recsys_engine {where}train {run['dataset_id']} "
        f"--split {run['split_id']} "
        f"--model {shlex.quote(run['model'])} --config {shlex.quote(json.dumps(config))}"
    )
