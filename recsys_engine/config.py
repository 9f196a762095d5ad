"""Where things live on disk. Environment variables override the defaults."""

from __future__ import annotations

import os
from pathlib import Path

#: Uploads larger than this are refused before reading (matches .streamlit/config.toml).
MAX_UPLOAD_MB = 1024


def default_db_path() -> Path:
    """The DuckDB file: ``$RECSYS_DB`` or ``data/recsys.duckdb`` under the working directory."""
    return Path(os.environ.get("RECSYS_DB", "data/recsys.duckdb"))


def artefact_root(db_path: Path | str) -> Path | None:
    """Folder for a database file's model artefacts: ``<folder>/<file stem>.artefacts``.

    One folder per database file, so two databases side by side never share run folders
    (run ids start at 1 in each). ``$RECSYS_ARTEFACTS`` overrides it; for ``":memory:"``
    without the override this is None and the store picks a private temporary folder.
    """
    override = os.environ.get("RECSYS_ARTEFACTS")
    if override:
        return Path(override)
    p = Path(db_path)
    if str(p) == ":memory:":
        return None
    return p.parent / f"{p.stem}.artefacts"


def inside(path: Path | str, folder: Path | str) -> bool:
    """Whether ``path`` resolves to somewhere inside ``folder`` (guards every rmtree)."""
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True
