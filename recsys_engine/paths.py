"""Where things live on disk. Environment variables override the defaults."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

#: Uploads larger than this are refused before reading (matches .streamlit/config.toml).
MAX_UPLOAD_MB = 1024


#: The database when ``$RECSYS_DB`` is not set, under the working directory.
DEFAULT_DB = Path("data/recsys.duckdb")


def default_db_path() -> Path:
    """The DuckDB file: ``$RECSYS_DB`` or ``data/recsys.duckdb`` under the working directory."""
    return Path(os.environ.get("RECSYS_DB", str(DEFAULT_DB)))


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


def upload_root(db_path: Path | str) -> Path:
    """Folder for uploads being mapped: ``<folder>/<file stem>.uploads`` next to the
    database (a temporary folder for ``":memory:"``). The server empties it when it starts,
    so files of closed tabs or of a killed server do not pile up."""
    p = Path(db_path)
    if str(p) == ":memory:":
        return Path(tempfile.gettempdir()) / "recsys_memory.uploads"
    return p.parent / f"{p.stem}.uploads"


def inside(path: Path | str, folder: Path | str) -> bool:
    """Whether ``path`` resolves to somewhere inside ``folder`` (guards every rmtree)."""
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True


#: Upload folders untouched for this long belong to sessions that went away.
STALE_UPLOAD_SECONDS = 24 * 3600


def clear_uploads(root: Path, older_than: float | None = None) -> None:
    """Delete upload folders under ``root`` (all of them, or those idle ``older_than``
    seconds). Run when the server starts and whenever a new upload arrives."""
    if not root.is_dir():
        return
    now = time.time()
    for folder in root.iterdir():
        if folder.is_dir() and (older_than is None or now - folder.stat().st_mtime > older_than):
            shutil.rmtree(folder, ignore_errors=True)
