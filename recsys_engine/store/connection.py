"""The store's connection: DuckDB held per unit of work, a cursor per thread, transactions.

``StoreConnection`` is the real base class of every table mixin (``DatasetTables``,
``SplitTables``, ...), so each mixin calls ``cursor()``/``transaction()`` it actually
inherits instead of stubbing them. It also owns what belongs to the file rather than to a
table family: the schema migration, the ``meta`` key/value table and the artefact folder.

Why per unit of work: DuckDB lets one process at a time open a file (even read-only), and
the lock lasts while any connection of that process is open. The app server and the CLI
share one database, so a file-backed store opens the file when a unit of work starts and
closes it when the unit ends. A unit is one call of a public ``Store`` method (every
method a subclass defines is wrapped, see ``__init_subclass__``), a ``transaction()``
block, or a ``unit()`` block; calls nested inside a unit, on the same thread, reuse its
connection. Threads of one process share one DuckDB connection (each has its own cursor),
held while any of them is inside a unit. How the file is opened (bounded retry, the
``.waiting`` marker that makes a holder close without lingering) is ``file_lock.py``.
A ``":memory:"`` store cannot be reopened, so it keeps its one connection for its life.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb

from recsys_engine.errors import ConflictError, RecsysError
from recsys_engine.paths import artefact_root, inside
from recsys_engine.store.file_lock import FileOpener, resolve_lock_timeout
from recsys_engine.store.schema import DDL, SCHEMA_VERSION

#: Methods of ``StoreConnection`` that manage units themselves and are never wrapped.
_NOT_A_UNIT = frozenset({"cursor", "transaction", "unit", "close", "holds_file"})
#: How often a lingering store looks for a process waiting for the file (seconds).
LINGER_POLL = 0.05
#: At interpreter exit, how long to wait for a closer thread to close its file (seconds).
EXIT_JOIN_S = 5.0
#: Stores whose closer thread may be running (see ``close_lingering_files``).
_LINGERING: weakref.WeakSet[StoreConnection] = weakref.WeakSet()


def close_lingering_files() -> None:
    """Close every lingering file now and wait for the closer threads to end.

    Registered with ``atexit``. A closer thread is a daemon: had it been inside DuckDB's
    ``close()`` when the interpreter began to finalise, DuckDB's wait for the interpreter
    lock would end the thread by unwinding through C++ code that does not allow it, and
    the process aborts ("FATAL: exception not rethrown"), after everything else had run.
    Exit handlers run before that point, so the closes happen here instead.
    """
    for store in list(_LINGERING):
        store._end_linger()


atexit.register(close_lingering_files)


class StoreConnection:
    """A DuckDB database file (or ``":memory:"``) with the Recsys Workbench schema.

    Args:
        path: database file; its folder is created when missing.
        read_only: open without write access (still needs the file lock).
        lock_timeout: seconds to wait for another process holding the file (default
            ``$RECSYS_DB_LOCK_TIMEOUT`` or 10).
        linger: seconds an idle file stays open after the last unit (default 0). The app
            uses a fraction of a second so the calls of one page render share one open
            (about 20 ms each here, see ``bench/db_open.py``); it closes at once when
            another process is waiting for the file.

    Raises:
        DatabaseLockedError: another process held the file for longer than
            ``lock_timeout``.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        read_only: bool = False,
        lock_timeout: float | None = None,
        linger: float = 0.0,
    ):
        self.path = str(path)
        self.read_only = read_only
        self.lock_timeout = resolve_lock_timeout(lock_timeout)
        self._memory = self.path == ":memory:"
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Condition()  # guards _db and _holders; notified on release
        self._db: duckdb.DuckDBPyConnection | None = None
        self._holders = 0  # threads inside a unit (file stores close _db when it drops to 0)
        self._closed = False
        self.linger = max(0.0, float(linger))
        # an idle open file is closed at this monotonic time by the store's closer thread
        self._linger_until: float | None = None
        self._closer: threading.Thread | None = None
        # closer threads that took the file and are closing it (outside the lock)
        self._closing: set[threading.Thread] = set()
        self._opener = FileOpener(self.path, read_only, self.lock_timeout)
        self._temp_artefacts: Path | None = None
        self._memory_opens = 0
        if self._memory:
            self._db = self._connect()
        if not read_only:
            self._migrate()
        else:  # still check now that the file can be opened at all
            with self.unit():
                pass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Make every method a subclass defines one unit of work (see the module doc)."""
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("__") or name in _NOT_A_UNIT or not inspect.isfunction(value):
                continue
            if inspect.isgeneratorfunction(value):  # would escape the unit; none exist today
                raise TypeError(f"Store method {cls.__name__}.{name} must not be a generator")
            setattr(cls, name, _as_unit(value))

    # -- connection handling -------------------------------------------------------------
    @contextmanager
    def unit(self) -> Iterator[None]:
        """Hold the database for a block of several calls on this thread (one open, one
        close), e.g. a whole page render or a staged upload that keeps a temp table.

        Nested units reuse the open connection; the file is released when the outermost
        unit of the last thread inside one ends.
        """
        self._enter()
        try:
            yield
        finally:
            self._exit()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the open connection.

        The table mixins run their SQL on it inside their own unit. Code outside
        ``recsys_engine/store/`` calls ``Store`` methods instead; tests use it to look
        inside the tables: called outside a unit, it holds the file (for every later call
        on this thread, too) until ``close()``, so the app and the CLI never do that.
        """
        local = self._local
        if getattr(local, "depth", 0) == 0 and not getattr(local, "loose", False):
            self._acquire()
            local.loose = True
        return local.cursor

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction on this thread's cursor; roll back on any error.

        Every ``Store`` method called inside the block on the same thread runs on that
        cursor, so several methods (a dataset row, its interactions, its counts) commit or
        roll back together; the file is held until the block ends.
        """
        with self.unit():
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
                    "nothing was saved: another session changed the same data at the same "
                    f"moment ({str(exc).splitlines()[0]}); try again"
                ) from None

    def holds_file(self) -> bool:
        """Whether this process has the database open now (always True in memory)."""
        return self._db is not None

    def close(self) -> None:
        """Close the connection (cursors die with it); a private temporary artefact
        folder (in-memory stores) goes with it. The store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            db, self._db, self._holders = self._db, None, 0
            self._linger_until = None
            self._lock.notify_all()  # the closer thread, if any, sees the store closed
        self._local = threading.local()
        if db is not None:
            db.close()
        if self._temp_artefacts is not None:
            shutil.rmtree(self._temp_artefacts, ignore_errors=True)

    def _enter(self) -> None:
        local = self._local
        depth = getattr(local, "depth", 0)
        if depth == 0 and not getattr(local, "loose", False):
            self._acquire()
        local.depth = depth + 1

    def _exit(self) -> None:
        local = self._local
        local.depth -= 1
        if local.depth == 0 and not getattr(local, "loose", False):
            self._release()

    def _acquire(self) -> None:
        """Give this thread a cursor, opening the file when no thread holds it."""
        with self._lock:
            if self._closed:
                raise RecsysError(f"the store for '{self.path}' was closed")
            self._linger_until = None  # reuse the lingering open
            if not self._memory and self._db is not None and self._someone_waiting():
                # another process waits: start no new hold until the current ones end and
                # the file is closed (else overlapping threads could keep it forever)
                while self._holders and not self._closed:
                    self._lock.wait(0.05)
                if self._closed:
                    raise RecsysError(f"the store for '{self.path}' was closed")
                if self._db is not None:
                    db, self._db = self._db, None
                    db.close()
            if self._db is None:
                self._db = self._connect()
            self._holders += 1
            if self._memory and getattr(self._local, "cursor", None) is not None:
                return  # in memory a thread keeps its cursor (and its temp tables) for life
            try:
                self._local.cursor = self._db.cursor()
            except BaseException:
                self._holders -= 1
                raise

    def _release(self) -> None:
        """Drop this thread's cursor; close the file when it was the last holder."""
        local = self._local
        local.loose = False
        if self._memory:
            with self._lock:
                self._holders = max(0, self._holders - 1)
            return
        cur, local.cursor = getattr(local, "cursor", None), None
        if cur is not None:
            with suppress(duckdb.Error):
                cur.close()
        with self._lock:
            self._holders = max(0, self._holders - 1)
            self._lock.notify_all()
            if self._holders or self._db is None:
                return
            if self.linger > 0 and not self._someone_waiting():
                self._start_linger()
                return
            db, self._db = self._db, None
        db.close()

    def _start_linger(self) -> None:
        """Keep the idle file open ``linger`` seconds (called with ``_lock`` held): the
        calls of one page render then share one open.

        One closer thread per store does the waiting (started when none runs), so a call
        starts no thread: with ten sessions rendering, a ``threading.Timer`` per call spent
        more time starting threads (each waits for the interpreter lock) than querying.
        """
        self._linger_until = time.monotonic() + self.linger
        if self._closer is None:
            self._closer = threading.Thread(
                target=self._close_when_idle, name="store-linger", daemon=True
            )
            _LINGERING.add(self)
            self._closer.start()

    def _end_linger(self) -> None:
        """Make a lingering file due now and wait (bounded) for the closer to close it;
        the store stays usable (the next unit opens the file again)."""
        with self._lock:
            closer = self._closer
            # a closer that already took the file may still be inside DuckDB's close: it
            # is waited for too (at exit, an abort if the interpreter finalised under it)
            threads = [t for t in (closer, *self._closing) if t is not None]
            if not threads:
                return
            if closer is not None and self._linger_until is not None:
                self._linger_until = time.monotonic()
            self._lock.notify_all()
        for thread in threads:
            thread.join(EXIT_JOIN_S)

    def _close_when_idle(self) -> None:
        """The closer thread: close the file once it has been idle for the linger, or as
        soon as another process waits for it (checked every ``LINGER_POLL`` s), then end;
        the next linger starts a new one."""
        with self._lock:
            while True:
                if self._closed or self._db is None:
                    self._closer = None
                    return
                until = self._linger_until
                if self._holders or until is None:  # in use: look again when released
                    self._lock.wait(LINGER_POLL)
                    continue
                left = until - time.monotonic()
                if left <= 0 or self._someone_waiting():
                    db, self._db = self._db, None
                    self._linger_until = None
                    self._closer = None  # a new linger may start a new closer now
                    self._closing.add(threading.current_thread())
                    break
                self._lock.wait(min(left, LINGER_POLL))
        try:
            db.close()
        finally:
            with self._lock:
                self._closing.discard(threading.current_thread())

    @property
    def opens(self) -> int:
        """How many times the database was opened (tests and the bench read it)."""
        return self._memory_opens if self._memory else self._opener.opens

    @property
    def _waiting_marker(self) -> Path:
        return self._opener.marker

    def _someone_waiting(self) -> bool:
        return self._opener.someone_waiting()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if not self._memory:
            return self._opener.open()
        self._memory_opens += 1
        try:
            return duckdb.connect(self.path)
        except duckdb.Error as exc:
            raise RecsysError(f"cannot open database '{self.path}': {exc}") from None

    # -- small query helpers for the table mixins ----------------------------------------
    def _first(self, sql: str, params: Any = None) -> tuple | None:
        """First row of a query, or None. (DuckDB 2 leaves a result open after
        fetchone(), so we never use it: the next statement on the cursor would fail.)"""
        with self.unit():
            rows = self.cursor().execute(sql, params).fetchall()
        return rows[0] if rows else None

    def _record(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        """First row of a query as a dict keyed by column name, or None."""
        with self.unit():
            cur = self.cursor()
            rows = cur.execute(sql, params).fetchall()
            names = [d[0] for d in cur.description]
        if not rows:
            return None
        return dict(zip(names, rows[0], strict=True))

    def _hold_for(self, key: str) -> None:
        """Keep this thread's unit open past the current call until ``_let_go(key)``:
        a temp table (an upload's staging) lives only as long as the connection."""
        self._enter()
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = set()
        held.add(key)

    def _let_go(self, key: str) -> None:
        """End a hold started by ``_hold_for(key)`` on this thread (no-op if none)."""
        held = getattr(self._local, "held", None)
        if held and key in held:
            held.discard(key)
            self._exit()

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
        if not self._memory:
            roots.append(Path(self.path).parent / "artefacts")
        return any(inside(path, r) and Path(path).resolve() != r.resolve() for r in roots)

    # -- schema and meta -----------------------------------------------------------------
    def _migrate(self) -> None:
        """Create or upgrade the schema; a file already at ``SCHEMA_VERSION`` is not
        written to at all (opening a database must not change it)."""
        with self.unit():
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
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                    [str(SCHEMA_VERSION)],
                )

    def get_meta(self, key: str) -> str | None:
        """A value from the ``meta`` key/value table (None when absent)."""
        row = self._first("SELECT value FROM meta WHERE key = ?", [key])
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the ``meta`` key/value table."""
        with self.unit():
            self.cursor().execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        row = self._first("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(row[0]) if row else 0


def _as_unit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run inside ``self.unit()``."""

    @functools.wraps(fn)
    def method(self: StoreConnection, *args: Any, **kwargs: Any) -> Any:
        with self.unit():
            return fn(self, *args, **kwargs)

    return method
