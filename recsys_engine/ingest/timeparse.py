"""Recognise how a time column is written: unix seconds, milliseconds, or a date format."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from recsys_engine.ingest.sniff import is_number

#: Tried in order; the first that parses (nearly) every sampled value wins.
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%b-%Y",
    "%m %d, %Y",
    "%b %d, %Y",
    "%d %b %Y",
)


@dataclass(frozen=True)
class TimeFormat:
    """How to turn the column's text into a timestamp."""

    kind: str  # "epoch", "format" or "auto"
    fmt: str | None = None
    scale: float = 1.0
    note: str | None = None


def detect_time_format(values: list[str]) -> TimeFormat:
    """Guess the format from sample values (empty cells ignored).

    A reading that parses (nearly) every value wins outright. Otherwise some values are
    bad, and the reading that fits the most values is chosen, so that only the bad values
    are reported rather than every row of the file.
    """
    vals = [v.strip() for v in values if v and v.strip()]
    if not vals:
        return TimeFormat("auto")
    numeric = [v for v in vals if is_number(v)]
    if len(numeric) >= 0.95 * len(vals):
        return _epoch(numeric)
    sample = vals[:300]
    best_fmt, best_ok = None, 0
    for fmt in DATE_FORMATS:
        ok = 0
        for v in sample:
            try:
                datetime.strptime(v, fmt)
                ok += 1
            except ValueError:
                pass
        if ok >= 0.95 * len(sample):
            return TimeFormat("format", fmt=fmt)
        if ok > best_ok:
            best_fmt, best_ok = fmt, ok
    iso_ok = sum(_is_iso(v) for v in sample)
    numeric_ok = sum(is_number(v) for v in sample)
    if numeric_ok > max(best_ok, iso_ok):
        return _epoch(numeric)
    if best_fmt is not None and best_ok > iso_ok:
        return TimeFormat("format", fmt=best_fmt)
    return TimeFormat("auto")


def _epoch(numeric: list[str]) -> TimeFormat:
    med = statistics.median(float(v) for v in numeric)
    if med > 1e14:
        return TimeFormat("epoch", scale=1e6, note="time values look like microseconds")
    if med > 1e11:
        return TimeFormat("epoch", scale=1e3, note="time values look like milliseconds")
    return TimeFormat("epoch")


def _is_iso(value: str) -> bool:
    """Whether DuckDB's timestamp cast (the ``auto`` reading) would likely accept it."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
