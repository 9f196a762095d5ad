"""File line numbers for messages: where a record starts in the file as an editor shows it.

DuckDB's reader numbers rejected records by line, but it does not count line breaks inside
quoted fields; staged rows only know their position among the rows that were read. Blank
lines and quoted line breaks therefore shift both away from the line a user sees. When a
file has neither (the usual case, checked by counting line breaks) simple arithmetic is
exact; otherwise the file is parsed once more, only when a message needs a line number.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterator

from recsys_engine.ingest.sniff import FileSniff

_CHUNK = 1 << 20


class LineMap:
    """Line numbers of one delimited text file's records.

    Args:
        sniff: how the file is read (path, encoding, delimiter, quote, header).
        reject_lines: DuckDB's line numbers of the records its reader rejected.
        n_rows: rows the reader kept.
    """

    def __init__(self, sniff: FileSniff, reject_lines: list[int], n_rows: int):
        self.sniff = sniff
        self.header = 1 if sniff.header and sniff.kind == "csv" else 0
        self.reject_lines = sorted(set(reject_lines))
        self.n_rows = n_rows
        self._scanned = False
        # Breakpoints where the offsets change, as (key, offset) pairs sorted by key:
        # record index -> file line is index + offset; DuckDB line -> index is line - offset.
        self._file: list[tuple[int, int]] = [(0, 1)]
        self._duck: list[tuple[int, int]] = [(1, 1)]
        self._rejected: list[int] | None = None

    def reject(self, duck_line: int) -> int:
        """File line of the record DuckDB reported as ``duck_line``."""
        self._scan()
        return self._file_line(self._record_of(duck_line))

    def row(self, row_index: int) -> int:
        """File line of the kept row ``row_index`` (0-based, in file order)."""
        self._scan()
        if self.sniff.kind != "csv":
            return row_index + 1  # Parquet: the row number
        if self._rejected is None:
            self._rejected = sorted(self._record_of(line) for line in self.reject_lines)
        record = self.header + row_index
        for rejected in self._rejected:
            if rejected <= record:
                record += 1
        return self._file_line(record)

    def _record_of(self, duck_line: int) -> int:
        i = bisect.bisect_right(self._duck, (duck_line, float("inf"))) - 1
        return duck_line - self._duck[max(i, 0)][1]

    def _file_line(self, record: int) -> int:
        i = bisect.bisect_right(self._file, (record, float("inf"))) - 1
        return record + self._file[max(i, 0)][1]

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        if self.sniff.kind != "csv":
            return
        expected = self.header + self.n_rows + len(self.reject_lines)
        try:
            if _count_lines(self.sniff) == expected:
                return  # no blank lines and no quoted line breaks: arithmetic is exact
            file_bp: list[tuple[int, int]] = []
            duck_bp: list[tuple[int, int]] = []
            embedded = 0
            for record, (start, n_lines) in enumerate(_records(self.sniff)):
                duck = start - embedded
                if not file_bp or file_bp[-1][1] != start - record:
                    file_bp.append((record, start - record))
                if not duck_bp or duck_bp[-1][1] != duck - record:
                    duck_bp.append((duck, duck - record))
                embedded += n_lines - 1
        except (OSError, csv.Error):
            return  # keep the arithmetic; a line number slightly off beats no message
        if file_bp:
            self._file, self._duck = file_bp, duck_bp


def _open(sniff: FileSniff):
    return open(sniff.path, encoding=sniff.encoding, errors="replace", newline="")


def _count_lines(sniff: FileSniff) -> int:
    """Lines in the file, a last line without a line break included."""
    n, last = 0, "\n"
    with _open(sniff) as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), ""):
            n += chunk.count("\n")
            last = chunk[-1]
    return n + (last != "\n")


def _records(sniff: FileSniff) -> Iterator[tuple[int, int]]:
    """(first file line, number of lines) of each non-blank record, parsed like DuckDB."""
    with _open(sniff) as fh:
        if sniff.quote and len(sniff.sep) == 1:
            reader = csv.reader(fh, delimiter=sniff.sep, quotechar=sniff.quote, doublequote=True)
        else:  # no quoting: one record per line; only blank lines matter
            reader = csv.reader(fh, delimiter="\x1f", quoting=csv.QUOTE_NONE)
        done = 0
        for rec in reader:
            start, done = done + 1, reader.line_num
            if rec:
                yield start, done - start + 1
