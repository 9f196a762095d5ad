"""Problems from DuckDB's CSV reader rejects: one message per bad line, with its column.

The reader records each line it could not parse (wrong field count, a value that is not a
number, bytes that are not UTF-8); this turns those records into ``Problem`` messages a
person can act on, located by the line number in the original file.
"""

from __future__ import annotations

from typing import Any

from recsys_engine.errors import Problem
from recsys_engine.ingest.lines import LineMap
from recsys_engine.ingest.plan import FilePlan
from recsys_engine.ingest.sniff import split_rows

#: Examples listed per kind of problem (the message gives the total count).
MAX_EXAMPLES = 3
#: Unreadable lines listed one by one before "N more" is said.
MAX_REJECTS_SHOWN = 10


def reject_problems(f: FilePlan, rejects: list[dict[str, Any]], lines: LineMap) -> list[Problem]:
    """Problems for the reader's rejected lines of ``f`` (at most ``MAX_REJECTS_SHOWN``)."""
    out: list[Problem] = []
    seen_lines: set[int] = set()
    width = len(f.sniff.columns)
    # One message per line; a wrong field count explains a failed cast on the same line.
    ragged = ("TOO MANY COLUMNS", "MISSING COLUMNS")
    for r in sorted(rejects, key=lambda r: (int(r["line"]), r["error_type"] not in ragged)):
        if int(r["line"]) in seen_lines:
            continue
        seen_lines.add(int(r["line"]))
        line = lines.reject(int(r["line"]))
        kind = str(r["error_type"])
        col = r["column_name"] if isinstance(r["column_name"], str) else None
        if kind == "CAST":
            value = _cell(r.get("csv_line", ""), f, col)
            msg = f"{value!r} is not a number"
        elif kind in ragged:
            n = _field_count(r.get("csv_line", ""), f)
            msg = f"the line has {n} fields; expected {width} (ragged row)"
            col = None
        elif kind in ("INVALID ENCODING", "INVALID UNICODE"):
            msg = (
                "bytes that are not valid UTF-8; the file may be latin-1 encoded "
                "(choose that encoding)"
            )
        elif kind == "UNQUOTED VALUE":
            msg = "a quote character inside an unquoted value"
        else:
            msg = str(r["error_message"])
        out.append(Problem("error", f.name, msg, line=line, column=col))
    if len(out) > MAX_REJECTS_SHOWN:
        extra = len(out) - MAX_REJECTS_SHOWN
        out = out[:MAX_REJECTS_SHOWN] + [
            Problem("error", f.name, f"{extra} more unreadable lines not listed")
        ]
    return out


def _cell(csv_line: Any, f: FilePlan, col: str | None) -> str:
    if not isinstance(csv_line, str) or col not in f.sniff.columns:
        return ""
    rows = split_rows([_strip_breaks(csv_line)], f.sniff.sep, f.sniff.quote)
    j = f.sniff.columns.index(col)
    return rows[0][j] if rows and j < len(rows[0]) else ""


def _field_count(csv_line: Any, f: FilePlan) -> int:
    if not isinstance(csv_line, str):
        return 0
    rows = split_rows([_strip_breaks(csv_line)], f.sniff.sep, f.sniff.quote)
    return len(rows[0]) if rows else 0


def _strip_breaks(csv_line: str) -> str:
    """DuckDB's ``csv_line`` of a CRLF file, or after blank lines, starts with line breaks."""
    return csv_line.strip("\r\n")
