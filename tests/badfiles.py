"""Broken (and awkward but valid) upload files, generated into ``tmp_path`` by the tests.

Nothing binary is committed: every file is built here from a few lines of code, so what
is wrong with it is visible in the test that uses it. Also holds the snapshot helpers the
ingest tests use to prove a failed load wrote nothing.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from recsys_engine.store import Store

HEADER = "user_id,item_id,rating,timestamp"

#: A small valid ratings file: 3 users, 3 items, ratings 1-5, unix seconds.
GOOD_ROWS = (
    "1,10,4,1600000000",
    "1,11,3,1600000100",
    "2,10,5,1600000200",
    "2,12,2,1600000300",
    "3,11,1,1600000400",
    "3,12,4,1600000500",
)


def write(folder: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``content`` to ``folder/name`` byte for byte (no newline translation)."""
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def csv_text(*rows: str, header: str | None = HEADER, sep: str = ",", eol: str = "\n") -> str:
    """Lines joined with ``eol`` (and a final ``eol``); ``sep`` replaces commas in the rows."""
    lines = ([header] if header is not None else []) + list(rows)
    return "".join((ln if sep == "," else ln.replace(",", sep)) + eol for ln in lines)


def good_csv(folder: Path, name: str = "good.csv") -> Path:
    """A ratings file that must load."""
    return write(folder, name, csv_text(*GOOD_ROWS))


def random_bytes(n: int = 4096, seed: int = 0) -> bytes:
    """Noise, as a corrupted download or a misnamed binary file looks."""
    return random.Random(seed).randbytes(n)


def zip_bytes() -> bytes:
    """A ZIP archive holding a valid CSV (a user who forgot to unzip)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ratings.csv", csv_text(*GOOD_ROWS))
    return buf.getvalue()


def png_bytes() -> bytes:
    """A valid 2x2 grey PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes([128, 128]) for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def late_latin1(n_rows: int = 25_000) -> tuple[bytes, int]:
    """A UTF-8-looking ratings file with one latin-1 byte far past the sniff sample.

    Returns:
        (the bytes, the 1-based line of the bad row; the header is line 1).
    """
    body = "".join(
        f"{1 + i // 100},{1 + i % 100},{1 + i % 5},{1600000000 + i}\n" for i in range(n_rows)
    )
    bad = "1,caf\xe9,3,1600000000\n".encode("latin-1")
    tail = b"2,caf,3,1600000000\n"
    data = (HEADER + "\n" + body).encode() + bad + tail
    return data, n_rows + 2


def write_parquet(folder: Path, name: str, columns: dict[str, list[Any]]) -> Path:
    """A Parquet file with the given columns (types inferred by pyarrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / name
    pq.write_table(pa.table(columns), path)
    return path


# -- snapshots ----------------------------------------------------------------------------
TABLES = ("datasets", "interactions", "items", "users")


def db_state(store: Store) -> dict[str, Any]:
    """What a load may change: the dataset list and the row count of every data table."""
    cur = store.cursor()
    listing = store.list_datasets()
    return {
        "listing": listing.drop(columns=["created_at"]).to_dict("records"),
        **{
            f"rows in {t}": cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in TABLES
        },
    }


def leftovers(store: Store) -> list[str]:
    """Temporary tables and registered views still alive on this thread's cursor."""
    cur = store.cursor()
    tables = cur.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    views = cur.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    return sorted(r[0] for r in tables + views)
