"""Look at an uploaded file before reading it: format, encoding, delimiter, header, columns.

Everything here reads only the first few hundred kilobytes, so it is instant on any size.
Findings that make the file unreadable are returned as ``Problem`` errors naming the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from recsys_engine.errors import Problem
from recsys_engine.paths import MAX_UPLOAD_MB

SAMPLE_BYTES = 256 * 1024
PREVIEW_ROWS = 20
DELIMITERS = ("\t", ",", ";", "|", "::", " ")

_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (unzip it and upload the files inside)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive (decompress it first)"),
    (b"BZh", "a bzip2 archive (decompress it first)"),
    (b"\x7fELF", "an executable program"),
    (b"SQLite format 3", "an SQLite database"),
)


@dataclass(frozen=True)
class FileSniff:
    """What we learnt about one file from its first bytes.

    Attributes:
        name: the file name as uploaded (used in every message).
        path: where the bytes are on disk.
        size: bytes.
        kind: ``"csv"`` (any delimited text) or ``"parquet"``.
        encoding: ``"utf-8"``, ``"utf-8-sig"`` (BOM), ``"latin-1"`` or ``"utf-16"``.
        sep: the delimiter (may be several characters, e.g. ``"::"``).
        quote: the quote character, or ``""`` when fields are never quoted (typical of
            tab- and pipe-separated exports, whose titles may contain bare quotes).
        header: whether the first line holds column names.
        columns: column names (from the header, or ``column_1``… when there is none).
        preview: the first rows as strings, for showing and for guessing roles.
        problems: errors that make the file unreadable, and warnings.
    """

    name: str
    path: Path
    size: int
    kind: str = "csv"
    encoding: str = "utf-8"
    sep: str = ","
    quote: str = '"'
    header: bool = True
    columns: tuple[str, ...] = ()
    preview: tuple[tuple[str, ...], ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """No blocking problem was found."""
        return not any(p.severity == "error" for p in self.problems)


def sniff_file(path: str | Path, name: str | None = None, max_mb: int = MAX_UPLOAD_MB) -> FileSniff:
    """Guess how to read ``path``; never raises for bad content (see ``problems``)."""
    path = Path(path)
    name = name or path.name
    size = path.stat().st_size
    base = FileSniff(name=name, path=path, size=size)

    def fail(message: str) -> FileSniff:
        return _replace(base, problems=(Problem("error", name, message),))

    if size == 0:
        return fail("the file is empty")
    if size > max_mb * 1024 * 1024:
        # One decimal: a 1.4 MB file over a 1 MB limit must not read "1 MB; the limit is 1 MB".
        return fail(f"the file is {size / 2**20:.1f} MB; the upload limit is {max_mb} MB")
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    if head.startswith(b"\xfe\xff"):
        # DuckDB reads only little-endian UTF-16; big-endian would load as zero rows.
        return fail(
            "the file is UTF-16 big-endian text, which cannot be read; "
            "save it as UTF-8 (or UTF-16 little-endian)"
        )
    if head[:4] == b"PAR1":
        return _sniff_parquet(base)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return fail(f"this is {what}, not a delimited text table")

    encoding, text, problems = _decode(head, name, complete=size <= SAMPLE_BYTES)
    if text is None:
        return _replace(base, problems=tuple(problems))
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if size > SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-line
    if not lines:
        return fail("the file holds only blank lines")
    sep = guess_delimiter(lines[:200])
    quote = guess_quote(lines[:200], sep)
    rows = split_rows(lines[: PREVIEW_ROWS + 1], sep, quote)
    header = guess_header(rows)
    width = Counter(len(r) for r in rows).most_common(1)[0][0]
    if header:
        columns = _unique_names(rows[0], width)
        body = rows[1:]
        if len(rows[0]) != width:
            shown = "tab" if sep == "\t" else repr(sep)
            problems.append(
                Problem(
                    "error",
                    name,
                    f"the header has {len(rows[0])} field(s) but the data rows have {width} "
                    f"with the delimiter {shown}: the header and the rows seem to use "
                    "different delimiters; fix the file so every line uses the same one",
                    line=1,
                )
            )
    else:
        columns = tuple(f"column_{i + 1}" for i in range(width))
        body = rows
    if header and not body and size <= SAMPLE_BYTES:
        problems.append(Problem("error", name, "the file has a header line but no data rows"))
    return _replace(
        base,
        kind="csv",
        encoding=encoding,
        sep=sep,
        quote=quote,
        header=header,
        columns=columns,
        preview=tuple(tuple(r) for r in body[:PREVIEW_ROWS]),
        problems=tuple(problems),
    )


def _sniff_parquet(base: FileSniff) -> FileSniff:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(base.path)
        columns = tuple(pf.schema_arrow.names)
        table = pf.read_row_group(0) if pf.num_row_groups else None
    except Exception as exc:  # pyarrow raises many types for corrupt files
        return _replace(
            base,
            kind="parquet",
            problems=(Problem("error", base.name, f"not a readable Parquet file ({exc})"),),
        )
    preview: tuple[tuple[str, ...], ...] = ()
    problems: tuple[Problem, ...] = ()
    if table is None or pf.metadata.num_rows == 0:
        problems = (Problem("error", base.name, "the Parquet file has no rows"),)
    else:
        rows = table.slice(0, PREVIEW_ROWS).to_pylist()
        preview = tuple(tuple("" if r[c] is None else str(r[c]) for c in columns) for r in rows)
    return _replace(
        base,
        kind="parquet",
        header=True,
        sep="",
        columns=columns,
        preview=preview,
        problems=problems,
    )


def _decode(head: bytes, name: str, complete: bool) -> tuple[str, str | None, list[Problem]]:
    problems: list[Problem] = []
    if head.startswith(b"\xef\xbb\xbf"):
        encoding, data = "utf-8-sig", head[3:]
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return "utf-16", head.decode("utf-16", errors="ignore"), problems
        except UnicodeDecodeError:  # pragma: no cover - ignore mode does not raise
            pass
        encoding, data = "utf-16", head
    else:
        encoding, data = "utf-8", head
    if b"\x00" in data[:65536]:
        problems.append(Problem("error", name, "binary data (NUL bytes): not a text table"))
        return encoding, None, problems
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not complete and exc.start >= len(data) - 4:
            text = data[: exc.start].decode("utf-8")  # a character cut by the sample end
        else:
            text = data.decode("latin-1")
            encoding = "latin-1"
            line = data[: exc.start].count(b"\n") + 1
            problems.append(
                Problem(
                    "warning",
                    name,
                    "not valid UTF-8; read as latin-1 (pick another "
                    "encoding if characters look wrong)",
                    line=line,
                )
            )
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(3, len(text[:65536]) // 200):
        problems.append(Problem("error", name, "binary data (control bytes): not a text table"))
        return encoding, None, problems
    return encoding, text, problems


def guess_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the sample lines into the most consistent field count."""
    best, best_score = ",", (0.0, 0)
    for sep in DELIMITERS:
        counts = [len(r) for r in split_rows(lines, sep)]
        if not counts:
            continue
        width, freq = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (freq / len(counts), width if sep != " " else 0)
        if score[0] > best_score[0] + 1e-9 or (
            abs(score[0] - best_score[0]) < 1e-9 and score[1] > best_score[1]
        ):
            best, best_score = sep, score
    return best


def guess_quote(lines: list[str], sep: str) -> str:
    """``'"'`` for comma/semicolon files or when some field is wholly quoted, else none."""
    if sep in (",", ";"):
        return '"'
    for ln in lines:
        for cell in ln.split(sep):
            c = cell.strip()
            if len(c) >= 2 and c[0] == '"' and c[-1] == '"':
                return '"'
    return ""


def split_rows(lines: list[str], sep: str, quote: str = '"') -> list[list[str]]:
    """Split lines into fields the way the loader will (quotes honoured for 1-char seps)."""
    if len(sep) == 1 and quote:
        try:
            return [list(r) for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=sep)]
        except csv.Error:
            return [ln.split(sep) for ln in lines]
    return [ln.split(sep) for ln in lines]


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def is_number(text: str) -> bool:
    """Whether a cell looks like a number."""
    return bool(_NUMBER.match(text.strip()))


def guess_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns rather than holding data."""
    if len(rows) < 2:
        return bool(rows) and not any(is_number(c) for c in rows[0])
    first, body = rows[0], rows[1:]
    for j, cell in enumerate(first):
        col = [r[j] for r in body if j < len(r) and r[j].strip()]
        if col and not is_number(cell) and all(is_number(c) for c in col):
            return True
    known = {_norm(n) for names in ROLE_NAMES.values() for n in names}
    return sum(_norm(c) in known for c in first) >= 2


def _unique_names(row: list[str], width: int) -> tuple[str, ...]:
    names: list[str] = []
    for i in range(width):
        raw = row[i].strip() if i < len(row) else ""
        name = raw or f"column_{i + 1}"
        while name in names:
            name += "_"
        names.append(name)
    return tuple(names)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


#: Column names that suggest a role, in priority order.
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "user": (
        "user_id",
        "userid",
        "user",
        "uid",
        "reviewerid",
        "customerid",
        "customer",
        "visitorid",
        "memberid",
        "accountid",
        "userids",
    ),
    "item": (
        "item_id",
        "itemid",
        "item",
        "movieid",
        "movie",
        "artistid",
        "artist",
        "productid",
        "product",
        "asin",
        "trackid",
        "track",
        "songid",
        "bookid",
        "isbn",
        "iid",
        "sku",
    ),
    "rating": ("rating", "ratings", "score", "stars", "overall", "rate"),
    "weight": ("weight", "count", "plays", "playcount", "clicks", "quantity", "qty", "views"),
    "time": (
        "timestamp",
        "unixreviewtime",
        "ts",
        "time",
        "datetime",
        "date",
        "createdat",
        "eventtime",
        "reviewtime",
    ),
    "item_id": ("item_id", "itemid", "movieid", "artistid", "productid", "asin", "id", "item"),
    "title": ("title", "name", "movietitle", "productname", "itemname"),
    "categories": ("genres", "genre", "categories", "category", "tags"),
    "text": ("description", "text", "summary", "overview", "plot", "reviewtext"),
}


def find_column(columns: tuple[str, ...], role: str) -> str | None:
    """The first column whose normalised name is a known name for ``role``."""
    normed = {_norm(c): c for c in reversed(columns)}
    for candidate in ROLE_NAMES[role]:
        if _norm(candidate) in normed:
            return normed[_norm(candidate)]
    return None


def _replace(s: FileSniff, **changes: object) -> FileSniff:
    from dataclasses import replace

    return replace(s, **changes)
