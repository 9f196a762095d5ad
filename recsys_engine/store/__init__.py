"""The DuckDB store: the one place with SQL (DESIGN §3).

``Store`` owns one DuckDB connection and hands each thread its own cursor (DuckDB 2 refuses
a connection shared across threads). Methods are grouped by table family in mixins that
live in sibling modules; every statement uses bound ``?`` parameters and quoted identifiers.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from recsys_engine.errors import ConflictError, DatabaseLockedError, RecsysError
from recsys_engine.paths import artefact_root, inside
from recsys_engine.store.datasets import DatasetTables, first_row
from recsys_engine.store.profile import ProfileQueries
from recsys_engine.store.runs import RunTables
from recsys_engine.store.schema import DDL, SCHEMA_VERSION
from recsys_engine.store.splits import SplitTables
from recsys_engine.store.staging import StagingQueries

__all__ = ["Store", "quote_ident"]


def quote_ident(name: str) -> str:
    """Quote an SQL identifier so any user-supplied text is taken literally."""
    return '"' + str(name).replace('"', '""') + '"'


class Store(DatasetTables, ProfileQueries, StagingQueries, SplitTables, RunTables):
    """A DuckDB database file (or ``":memory:"``) with the Recsys Workbench schema.

    Args:
        path: database file; its folder is created when missing.
        read_only: open without write access (still needs the file lock).

    Raises:
        DatabaseLockedError: another process holds the file.
    """

    def __init__(self, path: str | Path = ":memory:", read_only: bool = False):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise _locked_error(self.path, exc) from None
        except duckdb.Error as exc:
            raise RecsysError(f"cannot open database '{self.path}': {exc}") from None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._temp_artefacts: Path | None = None
        if not read_only:
            self._migrate()

    # -- connection handling -------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the shared connection."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction on this thread's cursor; roll back on any error."""
        cur = self.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        try:
            cur.execute("COMMIT")
        except duckdb.Error as exc:  # e.g. another session saved the same name just now
            with suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise ConflictError(
                "nothing was saved: another session changed the same data at the same moment "
                f"({str(exc).splitlines()[0]}); try again"
            ) from None

    def close(self) -> None:
        """Close the connection (cursors die with it); a private temporary artefact
        folder (in-memory stores) goes with it."""
        self._con.close()
        if self._temp_artefacts is not None:
            shutil.rmtree(self._temp_artefacts, ignore_errors=True)

    @property
    def artefact_dir(self) -> Path:
        """Where this database's model artefacts live (see ``config.artefact_root``)."""
        root = artefact_root(self.path)
        if root is None:
            if self._temp_artefacts is None:
                self._temp_artefacts = Path(tempfile.mkdtemp(prefix="recsys_artefacts_"))
            root = self._temp_artefacts
        return root

    def owns_artefact(self, path: str | Path) -> bool:
        """Whether ``path`` is a run folder this database may delete: under its artefact
        folder, or (older databases) under ``artefacts/`` next to the file."""
        roots = [self.artefact_dir]
        if self.path != ":memory:":
            roots.append(Path(self.path).parent / "artefacts")
        return any(inside(path, r) and Path(path).resolve() != r.resolve() for r in roots)

    def _migrate(self) -> None:
        """Create or upgrade the schema; a file already at ``SCHEMA_VERSION`` is not
        written to at all (opening a database must not change it)."""
        cur = self.cursor()
        has_meta = cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchall()[0][0]
        if has_meta and self.schema_version() == SCHEMA_VERSION:
            return
        with self.transaction() as cur:
            for stmt in DDL:
                cur.execute(stmt)
            cur.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )

    def get_meta(self, key: str) -> str | None:
        """A value from the ``meta`` key/value table (None when absent)."""
        row = first_row(
            self.cursor().execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        )
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the ``meta`` key/value table."""
        self.cursor().execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        row = first_row(
            self.cursor().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        )
        return int(row[0]) if row else 0


def _locked_error(path: str, exc: Exception) -> DatabaseLockedError:
    text = str(exc)
    pid = re.search(r"PID (\d+)", text)
    who = f"process {pid.group(1)}" if pid else "another process"
    return DatabaseLockedError(
        f"database '{path}' is in use by {who} (probably the running app); stop it or "
        "pass a different file with --db"
    )
