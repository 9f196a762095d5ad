"""Where a study's trials live: Optuna's own storages, chosen from the database path.

- a database file → a journal file next to it, ``<folder>/<file stem>.optuna.journal``
  (the convention of ``paths.artefact_root``), which local worker processes share through
  Optuna's file lock — the DuckDB file itself stays locked by one process;
- ``":memory:"`` → Optuna's in-memory storage (one process only);
- a URL (``sqlite:///…``, ``postgresql://…``, ``mysql://…``) → Optuna's RDB storage, which
  workers on several machines can share;
- any other text → a journal file at that path (e.g. on a shared disk).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recsys_engine.errors import ConfigError


def default_storage(db_path: str | Path) -> str | None:
    """The storage a database's studies use by default: its journal file, or None (in
    memory) for ``":memory:"``."""
    p = Path(db_path)
    if str(p) == ":memory:":
        return None
    return str(p.parent / f"{p.stem}.optuna.journal")


def open_storage(spec: str | None) -> Any:
    """The Optuna storage object for ``spec`` (see the module doc)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if spec is None:
        return optuna.storages.InMemoryStorage()
    if "://" in spec:
        try:
            return optuna.storages.RDBStorage(spec)
        except Exception as exc:  # a bad URL, a missing driver, a server that refuses
            raise ConfigError(
                f"cannot open the study storage {describe_storage(spec)}: {exc}"
            ) from None
    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def shareable(spec: str | None) -> bool:
    """Whether other processes can work on a study in this storage (not in memory)."""
    return spec is not None


def describe_storage(spec: str | None) -> str:
    """How the storage is shown and stored: a URL without its password, a journal path, or
    ``memory``."""
    if spec is None:
        return "memory"
    if "://" in spec:
        try:
            from sqlalchemy.engine import make_url

            return make_url(spec).render_as_string(hide_password=True)
        except Exception:  # not parseable: show only the scheme
            return spec.split("://", 1)[0] + "://…"
    return f"journal:{spec}"


def reopen_spec(described: str, study: str) -> str:
    """The storage spec to reopen a study from what ``describe_storage`` stored with it.

    Raises:
        ConfigError: the trials were kept in memory by a process that has ended, or the
            stored URL had its password hidden (give the URL to the CLI instead).
    """
    if described == "memory":
        raise ConfigError(
            f"the trials of study {study} were kept in memory by the process that ran it, "
            "so they are gone; studies run from the app or the CLI on a database file keep "
            "them in a journal file next to it"
        )
    if described.startswith("journal:"):
        return described[len("journal:") :]
    if "***" in described or described.endswith("://…"):
        raise ConfigError(
            f"study {study} lives in {described}, whose password is not stored; "
            "open it with the CLI and the full storage URL"
        )
    return described
