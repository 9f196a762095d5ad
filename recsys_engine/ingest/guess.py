"""Guessing an upload plan from sniffed files: roles, column mappings, feedback, scale, name.

Known layouts (MovieLens 100K / latest / 1M, HetRec Last.fm) are recognised by file name;
anything else is mapped from column names and values.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from recsys_engine.ingest.plan import (
    FilePlan,
    InteractionMapping,
    ItemMapping,
    LoadOptions,
    TagMapping,
    TagNamesMapping,
    UploadPlan,
    UserMapping,
    observed_range,
    refine_scale,
)
from recsys_engine.ingest.sniff import FileSniff, find_column, is_number, sniff_file

if TYPE_CHECKING:
    from recsys_engine.store import Store

#: Genre names of MovieLens 100K's 19 flag columns, in file order (also listed in u.genre).
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


def guess_plan(
    paths: list[Path] | list[tuple[Path, str]],
    name: str | None = None,
    store: Store | None = None,
) -> UploadPlan:
    """Sniff files and guess a complete plan (roles, mappings, feedback, scale, name).

    Args:
        paths: file paths, or (path, display name) pairs for uploads saved under temp names.
        name: dataset name; defaults to a name derived from the files.
        store: when given, the value column's first million rows are scanned to pick the
            rating scale (see ``LoadOptions.scale_at_load`` for the load's own pick).
    """
    pairs = [(Path(p), Path(p).name) if not isinstance(p, tuple) else p for p in paths]
    sniffs = [sniff_file(p, n) for p, n in pairs]
    names = {s.name.lower() for s in sniffs}
    notes: list[str] = []
    files = []
    for s in sniffs:
        plan = _preset(s, names) or _generic(s)
        files.append(plan)
    if sum(f.role == "interactions" for f in files) > 1:
        best = max((f for f in files if f.role == "interactions"), key=_interaction_evidence)
        others = [f for f in files if f.role == "interactions" and f is not best]
        files = [
            f if f.role != "interactions" or f is best else replace(f, role="ignore") for f in files
        ]
        notes.append(
            f"several files look like interactions; using {best.sniff.name} "
            f"({_why_chosen(best)}) and ignoring {', '.join(f.sniff.name for f in others)} "
            "— change a file's role below if that is wrong"
        )
    feedback, scale = _guess_feedback(files)
    chosen = [f.sniff for f in files if f.role == "interactions"]
    ds_name = name or _guess_name(chosen + [s for s in sniffs if s not in chosen])
    plan = UploadPlan(
        files=tuple(files),
        options=LoadOptions(name=ds_name, feedback=feedback, rating_scale=scale),
        notes=tuple(notes),
    )
    return refine_scale(plan, lambda f: observed_range(store, f)) if store is not None else plan


def _interaction_evidence(f: FilePlan) -> tuple[bool, bool, int, int, int]:
    """How much a file's content says it is the interactions table, best first.

    Readable before unreadable (a PNG renamed ``.csv`` never wins), then user and item
    columns found by name, then how many of the rating/time columns were found, then how
    many preview rows have every mapped column; the byte size only breaks a tie between
    equally good files (such as the train and test parts of one log).
    """
    s, m = f.sniff, f.mapping
    if not s.ok or not isinstance(m, InteractionMapping):
        return (False, False, 0, 0, s.size)
    named = bool(find_column(s.columns, "user")) and bool(find_column(s.columns, "item"))
    extras = int(m.value_col is not None) + int(m.time_col is not None)
    idx = [s.columns.index(c) for c in (m.user_col, m.item_col) if c in s.columns]
    full = sum(all(j < len(r) and r[j].strip() for j in idx) for r in s.preview)
    return (True, named, extras, full, s.size)


def _why_chosen(f: FilePlan) -> str:
    """The evidence that picked a file, in words."""
    s = f.sniff
    if not s.ok:
        return "no file could be read"
    m = f.mapping
    if not isinstance(m, InteractionMapping):
        return "readable"
    found = [f"user column '{m.user_col}'", f"item column '{m.item_col}'"]
    found += [
        f"{what} column '{c}'" for what, c in (("rating", m.value_col), ("time", m.time_col)) if c
    ]
    return "readable, with " + ", ".join(found)


# -- presets ------------------------------------------------------------------------------
def _cols(s: FileSniff, names: tuple[str, ...]) -> FileSniff:
    """Name the columns of a headerless preset file (keeps extra columns as column_N)."""
    width = max(len(s.columns), len(names))
    cols = tuple(names[i] if i < len(names) else f"column_{i + 1}" for i in range(width))
    return replace(s, columns=cols)


def _preset(s: FileSniff, names: set[str]) -> FilePlan | None:
    n = s.name.lower()
    if not s.ok:
        return FilePlan(s, "ignore" if n in _IGNORED else "interactions")
    if n == "u.data" and not s.header:
        s = _cols(s, ("user_id", "item_id", "rating", "timestamp"))
        return FilePlan(
            s, "interactions", InteractionMapping("user_id", "item_id", "rating", "timestamp")
        )
    if n == "u.item" and not s.header:
        fixed = ("movie_id", "title", "release_date", "video_release_date", "imdb_url")
        s = _cols(s, fixed + ML100K_GENRES)
        return FilePlan(s, "items", ItemMapping("movie_id", "title", flag_cols=ML100K_GENRES))
    if n == "u.user" and not s.header:
        s = _cols(s, ("user_id", "age", "gender", "occupation", "zip_code"))
        return FilePlan(s, "users", UserMapping("user_id", ("age", "gender", "occupation")))
    if n == "ratings.dat" and s.sep == "::":
        s = replace(_cols(s, ("user_id", "item_id", "rating", "timestamp")), header=False)
        return FilePlan(
            s, "interactions", InteractionMapping("user_id", "item_id", "rating", "timestamp")
        )
    if n == "movies.dat" and s.sep == "::":
        s = replace(_cols(s, ("movie_id", "title", "genres")), header=False)
        return FilePlan(s, "items", ItemMapping("movie_id", "title", categories_col="genres"))
    if n == "users.dat" and s.sep == "::":
        s = replace(_cols(s, ("user_id", "gender", "age", "occupation", "zip_code")), header=False)
        return FilePlan(s, "users", UserMapping("user_id", ("gender", "age", "occupation")))
    if n == "tags.dat" and "user_taggedartists.dat" in names:
        return FilePlan(s, "tag_names", TagNamesMapping(s.columns[0], s.columns[-1]))
    if n == "user_taggedartists.dat":
        item = find_column(s.columns, "item") or s.columns[1]
        tag = next((c for c in s.columns if "tag" in c.lower()), s.columns[2])
        return FilePlan(s, "tags", TagMapping(item, tag))
    if n == "tags.csv" and "movieid" in {c.lower() for c in s.columns}:
        item = find_column(s.columns, "item") or s.columns[1]
        return FilePlan(s, "tags", TagMapping(item, "tag" if "tag" in s.columns else s.columns[2]))
    if n in _IGNORED or re.fullmatch(r"u\d\.(base|test)|u[ab]\.(base|test)", n):
        return FilePlan(s, "ignore")
    return None


_IGNORED = {
    "u.genre",
    "u.info",
    "u.occupation",
    "links.csv",
    "readme",
    "readme.txt",
    "readme.md",
    "user_friends.dat",
    "user_taggedartists-timestamps.dat",
    "allbut.pl",
    "mku.sh",
}


def _generic(s: FileSniff) -> FilePlan:
    cols = s.columns
    user, item = find_column(cols, "user"), find_column(cols, "item")
    if user and item and user != item:
        value = find_column(cols, "rating") or find_column(cols, "weight")
        time = _time_column(s)
        text = review_text_columns(s, {user, item, value, time})
        return FilePlan(
            s, "interactions", InteractionMapping(user, item, value, time, text_cols=text)
        )
    if not s.header and len(cols) >= 2 and _numeric_share(s, 0) == 1 and _numeric_share(s, 1) == 1:
        value = cols[2] if len(cols) > 2 and _numeric_share(s, 2) == 1 else None
        time = cols[3] if len(cols) > 3 else None
        return FilePlan(s, "interactions", InteractionMapping(cols[0], cols[1], value, time))
    item_id = find_column(cols, "item_id")
    title = find_column(cols, "title")
    if item_id and (title or find_column(cols, "categories")):
        cats = find_column(cols, "categories")
        text = find_column(cols, "text")
        numeric = tuple(
            c
            for i, c in enumerate(cols)
            if c not in {item_id, title, cats, text} and _numeric_share(s, i) == 1
        )
        return FilePlan(
            s,
            "items",
            ItemMapping(
                item_id, title, (text,) if text else (), cats, _guess_sep(s, cats), numeric
            ),
        )
    if user:
        return FilePlan(s, "users", UserMapping(user, tuple(c for c in cols if c != user)))
    if len(cols) >= 2:
        return FilePlan(
            s,
            "interactions",
            InteractionMapping(
                cols[0],
                cols[1],
                cols[2] if len(cols) > 2 else None,
                cols[3] if len(cols) > 3 else None,
            ),
        )
    return FilePlan(s, "ignore")


#: Name parts of columns that hold free text written about an item.
TEXT_NAME_HINTS = ("text", "review", "summary", "comment", "description", "body", "headline")

#: Name endings that say a column is not free text even with a hint in the name.
_NOT_TEXT_ENDINGS = ("name", "id", "ids", "time", "date", "url", "count")

#: Average length (characters) from which any wordy column counts as free text.
LONG_TEXT_CHARS = 100


def review_text_columns(s: FileSniff, exclude: set[str | None]) -> tuple[str, ...]:
    """Free-text columns of an interactions file worth keeping as item content.

    A column qualifies when its preview cells are words rather than numbers or codes
    (on average at least two words of letters), and either its name says it is text
    (``reviewText``, ``summary``, ``comment`` …) or its cells are long (on average
    ``LONG_TEXT_CHARS`` characters or more). Names, dates and ids do not qualify.
    """
    out = []
    for j, c in enumerate(s.columns):
        if c in exclude:
            continue
        cells = [r[j] for r in s.preview if j < len(r) and r[j].strip()]
        if not cells or _numeric_share(s, j) > 0.5:
            continue
        words = sum(len(re.findall(r"[^\W\d_]{2,}", v)) for v in cells) / len(cells)
        length = sum(len(v) for v in cells) / len(cells)
        low = re.sub(r"[^a-z]", "", c.lower())
        # "reviewerName", "reviewTime": a text-like word naming a person, id or date
        named = any(h in low for h in TEXT_NAME_HINTS) and not low.endswith(_NOT_TEXT_ENDINGS)
        if words >= 2 and (named or length >= LONG_TEXT_CHARS):
            out.append(c)
    return tuple(out)


def _time_column(s: FileSniff) -> str | None:
    return find_column(s.columns, "time")


def _numeric_share(s: FileSniff, j: int) -> float:
    cells = [r[j] for r in s.preview if j < len(r) and r[j].strip()]
    return sum(is_number(c) for c in cells) / len(cells) if cells else 0.0


def _guess_sep(s: FileSniff, col: str | None) -> str:
    if col is None:
        return "|"
    j = s.columns.index(col)
    cells = " ".join(r[j] for r in s.preview if j < len(r))
    for sep in ("|", ";", ","):
        if sep in cells:
            return sep
    return "|"


def _guess_feedback(files: list[FilePlan]) -> tuple[str, tuple[float, float] | None]:
    inter = next((f for f in files if f.role == "interactions"), None)
    if inter is None or not isinstance(inter.mapping, InteractionMapping):
        return "implicit", None
    m = inter.mapping
    if m.value_col is None:
        return "implicit", None
    j = inter.sniff.columns.index(m.value_col) if m.value_col in inter.sniff.columns else None
    vals = []
    if j is not None:
        for r in inter.sniff.preview:
            if j < len(r) and is_number(r[j]):
                vals.append(float(r[j]))
    name = re.sub(r"[^a-z]", "", m.value_col.lower())
    if name in ("weight", "count", "plays", "playcount", "clicks", "quantity", "qty", "views"):
        return "implicit", None
    if vals and max(vals) > 10:
        return "implicit", None
    if vals and max(vals) <= 5:
        lo = 0.5 if any(v % 1 for v in vals) or min(vals) < 1 else 1.0
        return "explicit", (lo, 5.0)
    if vals:
        return "explicit", (1.0, 10.0)
    return "explicit", (1.0, 5.0)


def _guess_name(sniffs: list[FileSniff]) -> str:
    names = {s.name.lower() for s in sniffs}
    if "u.data" in names:
        return "MovieLens 100K"
    if "ratings.csv" in names and "movies.csv" in names:
        return "MovieLens latest"
    if "user_artists.dat" in names:
        return "Last.fm HetRec 2K"
    if "ratings.dat" in names:
        return "MovieLens 1M"
    first = sniffs[0].name if sniffs else "dataset"
    return Path(first).stem[:60] or "dataset"
