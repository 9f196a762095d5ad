"""Quoting for the few parts of SQL that cannot be bound as ``?`` parameters.

Identifiers (table and column names) and the arguments of DuckDB's table functions
(``read_csv(...)`` takes no bound parameters) are written into the statement text; these
helpers quote and escape them so any user-supplied text is taken literally.
"""

from __future__ import annotations

from recsys_engine.errors import ConfigError

#: Characters DuckDB's readers expand as a file pattern (``*``, ``?``, ``[...]``, ``{a,b}``).
GLOB_CHARS = frozenset("*?[]{}")


def quote_ident(name: str) -> str:
    """Quote an SQL identifier so any user-supplied text is taken literally."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string as an SQL literal (for table-function options only)."""
    return "'" + text.replace("'", "''") + "'"


def path_literal(path: str) -> str:
    """A file path as an SQL literal; refused when DuckDB would treat it as a pattern."""
    bad = sorted(GLOB_CHARS & set(str(path)))
    if bad:
        raise ConfigError(
            f"cannot read '{path}': DuckDB reads names with {' '.join(bad)} as a pattern of "
            "several files; rename the file (or copy it) without those characters"
        )
    return quote_literal(str(path))
