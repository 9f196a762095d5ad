"""The bundled demo dataset ("movie nights"), loaded on the app's first start.

The CSV files live in ``sample_data/`` and are made by ``sample_data/generate.py``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from recsys_engine.errors import NotFoundError

if TYPE_CHECKING:
    from recsys_engine.store import Store

DEMO_NAME = "Demo: movie nights"
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
#: role -> file name inside the sample folder.
DEMO_FILES = {"interactions": "interactions.csv", "items": "items.csv", "users": "users.csv"}

# Two sessions starting at once must not both load the demo (names are unique anyway).
_ENSURE_LOCK = threading.Lock()


def demo_frames(folder: Path | None = None) -> dict[str, pd.DataFrame]:
    """Read the demo CSVs into frames shaped for ``Store.create_dataset_from_frames``.

    Args:
        folder: where the CSV files are (default: the repository's ``sample_data/``).

    Returns:
        ``{"interactions": ..., "items": ..., "users": ...}``; ids are strings, ``ts`` is a
        datetime from unix seconds, ``categories`` are lists, ``features`` is a JSON string.

    Raises:
        NotFoundError: a demo file is missing.
    """
    paths = _paths(folder)
    inter = pd.read_csv(
        paths["interactions"],
        dtype={"user_id": str, "item_id": str, "rating": float, "timestamp": "int64"},
    )
    interactions = pd.DataFrame(
        {
            "user_id": inter["user_id"],
            "item_id": inter["item_id"],
            "rating": inter["rating"],
            "weight": 1.0,
            "ts": pd.to_datetime(inter["timestamp"], unit="s"),
        }
    )
    raw_items = pd.read_csv(paths["items"], dtype=str, keep_default_na=False)
    items = pd.DataFrame(
        {
            "item_id": raw_items["item_id"],
            "title": raw_items["title"],
            "text": raw_items["description"],
            "categories": [[c for c in s.split("|") if c] for s in raw_items["categories"]],
        }
    )
    raw_users = pd.read_csv(paths["users"], dtype=str, keep_default_na=False)
    feature_cols = [c for c in raw_users.columns if c != "user_id"]
    users = pd.DataFrame(
        {
            "user_id": raw_users["user_id"],
            "features": [
                json.dumps({c: row[c] for c in feature_cols})
                for row in raw_users[feature_cols].to_dict("records")
            ],
        }
    )
    return {"interactions": interactions, "items": items, "users": users}


def load_demo(store: Store, folder: Path | None = None, name: str = DEMO_NAME) -> int:
    """Load the demo dataset as a new explicit-feedback dataset (ratings 1–5).

    Args:
        store: the database.
        folder: where the CSV files are (default: the repository's ``sample_data/``).
        name: dataset name (must not exist yet).

    Returns:
        The new dataset id.

    Raises:
        NotFoundError: a demo file is missing.
        ConfigError: a dataset with this name already exists.
    """
    paths = _paths(folder)
    frames = demo_frames(folder)
    sources = [
        {
            "file": path.name,
            "role": role,
            "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        for role, path in paths.items()
    ]
    return store.create_dataset_from_frames(
        name,
        frames["interactions"],
        frames["items"],
        frames["users"],
        feedback="explicit",
        rating_scale=(1, 5),
        sources=sources,
    )


def ensure_demo(store: Store, folder: Path | None = None) -> int | None:
    """Load the demo dataset on a database's first start (never again once offered).

    Returns:
        The new dataset id, or None when the database already had datasets.

    Raises:
        NotFoundError: the database is empty and a demo file is missing.
    """
    with _ENSURE_LOCK:
        # Only on a database's first start: a user who deleted everything keeps it empty.
        if store.get_meta("demo_offered") or len(store.list_datasets()) > 0:
            store.set_meta("demo_offered", "1")
            return None
        did = load_demo(store, folder)
        store.set_meta("demo_offered", "1")
        return did


def _paths(folder: Path | None) -> dict[str, Path]:
    base = Path(folder) if folder is not None else SAMPLE_DIR
    paths = {role: base / fname for role, fname in DEMO_FILES.items()}
    for role, path in paths.items():
        if not path.is_file():
            raise NotFoundError(
                f"demo {role} file not found: {path} (run `python sample_data/generate.py`)"
            )
    return paths
