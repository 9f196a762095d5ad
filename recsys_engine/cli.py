"""Command line: ``python -m recsys_engine [--db PATH] COMMAND ...`` (DESIGN §8).

Errors a user can fix exit with code 1 and one line on stderr; ``--json`` prints one JSON
document on stdout for scripts and tests.

The CLI can run while the app's server uses the same database: both hold the file only for
a unit of work and wait (up to ``$RECSYS_DB_LOCK_TIMEOUT``, 10 s) while the other has it, so
a long ``train`` leaves the file to the app between its writes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from recsys_engine.commands.common import terminal_safe
from recsys_engine.errors import RecsysError
from recsys_engine.paths import default_db_path


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    from recsys_engine.commands import compare as compare_commands
    from recsys_engine.commands import data, runs, splits, tune
    from recsys_engine.commands import explain as explain_commands

    parser = argparse.ArgumentParser(
        prog="python -m recsys_engine",
        description="Recsys Workbench engine: load data, split, train, evaluate, compare.",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="DuckDB file (default: $RECSYS_DB or data/recsys.duckdb)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.register(sub)
    splits.register(sub)
    runs.register(sub)
    tune.register(sub)
    compare_commands.register(sub)
    explain_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from recsys_engine.store import Store

    try:
        store = Store(args.db or default_db_path())
        try:
            return int(args.func(args, store) or 0)
        finally:
            store.close()
    except RecsysError as exc:
        print(terminal_safe(f"error: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
