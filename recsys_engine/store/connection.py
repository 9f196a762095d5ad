"""The store's connection: one DuckDB connection, a cursor per thread, transactions.

``StoreConnection`` is the real base class of every table mixin (``DatasetTables``,
``SplitTables``, ...), so each mixin calls ``cursor()``/``transaction()`` it actually
inherits instead of stubbing them. It also owns what belongs to the file rather than to a
table family: the schema migration, the ``meta`` key/value table and the artefact folder.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb

from recsys_engine.errors import ConflictError, DatabaseLockedError, RecsysError
from recsys_engine.paths import artefact_root, inside
from recsys_engine.store.schema import DDL, SCHEMA_VERSION


class StoreConnection:
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
        """This thread's cursor on the shared connection.

        The table mixins run their SQL on it; code outside ``recsys_engine/store/`` calls
        ``Store`` methods instead (tests use it to look inside the tables).
        """
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction on this thread's cursor; roll back on any error.

        Every ``Store`` method called inside the block on the same thread runs on that
        cursor, so several methods (a dataset row, its interactions, its counts) commit or
        roll back together.
        """
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

    # -- small query helpers for the table mixins ----------------------------------------
    def _first(self, sql: str, params: Any = None) -> tuple | None:
        """First row of a query, or None. (DuckDB 2 leaves a result open after
        fetchone(), so we never use it: the next statement on the cursor would fail.)"""
        rows = self.cursor().execute(sql, params).fetchall()
        return rows[0] if rows else None

    def _record(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        """First row of a query as a dict keyed by column name, or None."""
        cur = self.cursor()
        rows = cur.execute(sql, params).fetchall()
        if not rows:
            return None
        return dict(zip([d[0] for d in cur.description], rows[0], strict=True))

    # -- artefacts -----------------------------------------------------------------------
    @property
    def artefact_dir(self) -> Path:
        """Where this database's model artefacts live (see ``paths.artefact_root``)."""
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

    # -- schema and meta -----------------------------------------------------------------
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
        row = self._first("SELECT value FROM meta WHERE key = ?", [key])
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the ``meta`` key/value table."""
        self.cursor().execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        row = self._first("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(row[0]) if row else 0


def _locked_error(path: str, exc: Exception) -> DatabaseLockedError:
    text = str(exc)
    pid = re.search(r"PID (\d+)", text)
    who = f"process {pid.group(1)}" if pid else "another process"
    return DatabaseLockedError(
        f"database '{path}' is in use by {who} (probably the running app); stop it or "
        "pass a different file with --db"
    )
