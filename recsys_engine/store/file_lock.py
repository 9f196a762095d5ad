"""Opening a DuckDB file that another process may hold: bounded retry and a waiting marker.

DuckDB lets one process at a time open a file (even read-only). The app server and the CLI
share one database, so opening retries on DuckDB's lock error with backoff for up to a
timeout, then raises ``DatabaseLockedError`` naming the holder. While it waits, a process
leaves ``<file>.waiting`` (its pid, touched at each try): a holder that sees a fresh marker
closes without lingering and, before its next open, gives the waiter a short courtesy
pause, so a busy app cannot starve the CLI. ``StoreConnection`` decides *when* to open and
close; this module only knows *how* to open politely.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import suppress
from pathlib import Path

import duckdb

from recsys_engine.errors import DatabaseLockedError, RecsysError

#: How long opening a file waits for another process to let go of it (seconds);
#: ``$RECSYS_DB_LOCK_TIMEOUT`` overrides it.
DEFAULT_LOCK_TIMEOUT = 10.0
#: Backoff between tries: the first wait, the factor, the longest wait (seconds).
RETRY_FIRST, RETRY_FACTOR, RETRY_MAX = 0.005, 1.6, 0.05
#: A marker younger than ``WAITING_FRESH`` seconds means someone is waiting now; a holder
#: then gives the waiter ``COURTESY`` seconds to get in before opening again.
WAITING_FRESH, COURTESY = 1.0, 0.1


class FileOpener:
    """Opens one database file, waiting politely while another process holds it.

    Args:
        path: the DuckDB file.
        read_only: open without write access (still needs the file lock).
        lock_timeout: seconds to keep retrying before ``DatabaseLockedError``.
    """

    def __init__(self, path: str, read_only: bool, lock_timeout: float):
        self.path = path
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        self.marker = Path(path + ".waiting")
        self.opens = 0  # how many times the file was opened (tests and the bench read it)

    def someone_waiting(self) -> bool:
        """Whether another process left a fresh ``.waiting`` marker for this file."""
        try:
            fresh = time.time() - self.marker.stat().st_mtime < WAITING_FRESH
            return fresh and self.marker.read_text().strip() != str(os.getpid())
        except OSError:
            return False

    def open(self) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying with backoff while another process holds its lock.

        Raises:
            DatabaseLockedError: the lock was still held after ``lock_timeout`` seconds.
            RecsysError: the file cannot be opened for another reason.
        """
        deadline = time.monotonic() + self.lock_timeout
        wait = RETRY_FIRST
        waited = False
        if self.someone_waiting():
            time.sleep(COURTESY)  # let the other process in first; it retries every 50 ms
        try:
            while True:
                try:
                    con = duckdb.connect(self.path, read_only=self.read_only)
                except duckdb.IOException as exc:
                    if not _is_lock_error(exc):
                        raise RecsysError(f"cannot open database '{self.path}': {exc}") from None
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise locked_error(self.path, exc, self.lock_timeout) from None
                    self._mark_waiting(True)
                    waited = True
                    time.sleep(min(wait, left))
                    wait = min(wait * RETRY_FACTOR, RETRY_MAX)
                    continue
                except duckdb.Error as exc:
                    raise RecsysError(f"cannot open database '{self.path}': {exc}") from None
                self.opens += 1
                return con
        finally:
            if waited:
                self._mark_waiting(False)

    def _mark_waiting(self, waiting: bool) -> None:
        """Leave (or, once in, remove our) ``.waiting`` marker; best effort."""
        with suppress(OSError):
            if waiting:
                self.marker.write_text(str(os.getpid()))
            elif self.marker.read_text().strip() == str(os.getpid()):
                self.marker.unlink()


def resolve_lock_timeout(value: float | None) -> float:
    """The lock timeout in seconds: ``value``, else ``$RECSYS_DB_LOCK_TIMEOUT``, else 10.

    Raises:
        RecsysError: the value (or the variable) is not a number of seconds ≥ 0.
    """
    if value is None:
        text = os.environ.get("RECSYS_DB_LOCK_TIMEOUT", "").strip()
        if not text:
            return DEFAULT_LOCK_TIMEOUT
        try:
            value = float(text)
        except ValueError:
            raise RecsysError(
                f"RECSYS_DB_LOCK_TIMEOUT must be a number of seconds, got {text!r}"
            ) from None
    if not value >= 0:
        raise RecsysError(f"lock_timeout must be 0 or more seconds, got {value!r}")
    return float(value)


def _is_lock_error(exc: Exception) -> bool:
    return "lock" in str(exc).lower()


def locked_error(path: str, exc: Exception, timeout: float) -> DatabaseLockedError:
    """The one-line error for a file still held after ``timeout`` seconds, naming the
    holder's pid when DuckDB gives it."""
    pid = re.search(r"PID (\d+)", str(exc))
    who = f"process {pid.group(1)}" if pid else "another process"
    return DatabaseLockedError(
        f"database '{path}' is in use: {who} held it for more than {timeout:g} s "
        "(a long write such as a big upload); try again when it finishes, or pass a "
        "different file with --db"
    )
