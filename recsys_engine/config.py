"""Where things live on disk. Environment variables override the defaults."""

from __future__ import annotations

import os
from pathlib import Path

#: Uploads larger than this are refused before reading (matches .streamlit/config.toml).
MAX_UPLOAD_MB = 1024


def default_db_path() -> Path:
    """The DuckDB file: ``$RECSYS_DB`` or ``data/recsys.duckdb`` under the working directory."""
    return Path(os.environ.get("RECSYS_DB", "data/recsys.duckdb"))


def artefact_root(db_path: Path | str) -> Path:
    """Folder for model artefacts, kept next to the database file."""
    p = Path(db_path)
    if str(p) == ":memory:":
        return Path(os.environ.get("RECSYS_ARTEFACTS", "data/artefacts"))
    return p.parent / "artefacts"
