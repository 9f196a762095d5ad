"""The DuckDB store: the one place with SQL (DESIGN §3).

``Store`` is one object: a real base class, ``StoreConnection``, opens the DuckDB file for
each unit of work and closes it after (so the app server and the CLI can share the file),
hands each thread its own cursor (DuckDB 2 refuses a connection shared across threads),
runs transactions and migrations; the table families are mixins that inherit from it, so
every method reaches the connection it actually has. Callers use ``Store`` methods only;
several of them inside one ``with store.transaction():`` block commit together. Every
statement uses bound ``?`` parameters and quoted identifiers.

Modules:

- ``connection``: ``StoreConnection`` (units of work, cursors, transactions, the lock
  retry, close, meta, migration, artefact folder).
- ``schema``: the DDL and its version.
- ``datasets``: datasets, interactions, items, users: reads, rename, delete.
- ``dataset_writes``: writing a new dataset (its row, rows from frames, counts).
- ``profile``: read-only aggregates for the dataset profile.
- ``readers``: DuckDB's ``read_csv``/``read_parquet`` text for an upload file, and the
  reads that need no staging (sample, value range, side files).
- ``staging``: staging, checking and inserting an uploaded interactions file.
- ``fast_load``: the single-pass load of a clean interactions file.
- ``splits``: splits and their per-interaction folds.
- ``context``: the context fields of interactions (device, hour, ...; issue 18).
- ``reviews``: review text kept per interaction, read per item from a training fold.
- ``runs``: runs, progress, metrics, per-user metrics, recommendations.
- ``studies``: tuning studies (Optuna keeps their trials in its own storage).
- ``names``: valid display names and id references (no SQL).
- ``sql``: quoting of identifiers and literals (no statements).
"""

from __future__ import annotations

from recsys_engine.store.context import ContextTables
from recsys_engine.store.dataset_writes import DatasetWrites
from recsys_engine.store.datasets import DatasetTables
from recsys_engine.store.fast_load import FastLoad
from recsys_engine.store.profile import ProfileQueries
from recsys_engine.store.reviews import ReviewTexts
from recsys_engine.store.runs import RunTables
from recsys_engine.store.splits import SplitTables
from recsys_engine.store.sql import quote_ident
from recsys_engine.store.staging import StagingQueries
from recsys_engine.store.studies import StudyTables

__all__ = ["Store", "quote_ident"]


class Store(
    DatasetTables,
    DatasetWrites,
    ProfileQueries,
    StagingQueries,
    FastLoad,
    SplitTables,
    RunTables,
    StudyTables,
    ContextTables,
    ReviewTexts,
):
    """A DuckDB database file (or ``":memory:"``) with the Recsys Workbench schema.

    Args:
        path: database file; its folder is created when missing.
        read_only: open without write access (still needs the file lock).
        lock_timeout: seconds to wait for another process holding the file (default
            ``$RECSYS_DB_LOCK_TIMEOUT`` or 10).
        linger: seconds an idle file stays open after the last unit of work (default 0;
            the app uses a fraction of a second so one page render opens the file once).

    Raises:
        DatabaseLockedError: another process held the file for longer than
            ``lock_timeout``.
    """
