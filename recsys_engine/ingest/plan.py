"""An upload plan: which file plays which role and how its columns map (DESIGN §3).

``guess_plan`` turns sniffed files into a plan a user can then correct column by column;
known layouts (MovieLens 100K / latest / 1M, HetRec Last.fm) are recognised by file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from recsys_engine.errors import ConfigError
from recsys_engine.ingest.sniff import FileSniff, find_column, is_number, sniff_file

if TYPE_CHECKING:
    from recsys_engine.store import Store
    from recsys_engine.store.staging import StageSource

ROLES = ("interactions", "items", "users", "tags", "tag_names", "ignore")
DUPLICATE_RULES = ("reject", "keep-last", "sum")

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


@dataclass(frozen=True)
class InteractionMapping:
    """Columns of an interactions file. ``value_col`` is the rating (explicit) or weight."""

    user_col: str
    item_col: str
    value_col: str | None = None
    time_col: str | None = None


@dataclass(frozen=True)
class ItemMapping:
    """Columns of an item file; ``flag_cols`` are 0/1 columns named after categories."""

    id_col: str
    title_col: str | None = None
    text_cols: tuple[str, ...] = ()
    categories_col: str | None = None
    categories_sep: str = "|"
    numeric_cols: tuple[str, ...] = ()
    flag_cols: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserMapping:
    """Columns of a user file: the id and the feature columns to keep."""

    id_col: str
    feature_cols: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagMapping:
    """A (user,) item, tag file; tags become item text. Tag ids resolve via a tag_names file."""

    item_col: str
    tag_col: str


@dataclass(frozen=True)
class TagNamesMapping:
    """A tag id → tag text lookup file (HetRec ``tags.dat``)."""

    id_col: str
    value_col: str


Mapping = InteractionMapping | ItemMapping | UserMapping | TagMapping | TagNamesMapping | None


@dataclass(frozen=True)
class FilePlan:
    """One file, its role and its column mapping."""

    sniff: FileSniff
    role: str
    mapping: Mapping = None

    @property
    def name(self) -> str:
        return self.sniff.name


@dataclass(frozen=True)
class LoadOptions:
    """Dataset-wide choices made at upload."""

    name: str
    feedback: str = "explicit"
    rating_scale: tuple[float, float] | None = (1.0, 5.0)
    duplicates: str = "reject"

    def __post_init__(self) -> None:
        if self.feedback not in ("explicit", "implicit"):
            raise ConfigError(f"feedback must be 'explicit' or 'implicit' (got {self.feedback!r})")
        if self.duplicates not in DUPLICATE_RULES:
            raise ConfigError(
                f"duplicates must be one of {', '.join(DUPLICATE_RULES)} (got {self.duplicates!r})"
            )
        if self.feedback == "explicit" and self.rating_scale is not None:
            lo, hi = self.rating_scale
            if not lo < hi:
                raise ConfigError(f"rating scale must have min < max (got {lo} to {hi})")


@dataclass(frozen=True)
class UploadPlan:
    """All files of one upload with the dataset options."""

    files: tuple[FilePlan, ...]
    options: LoadOptions
    notes: tuple[str, ...] = field(default_factory=tuple)

    def by_role(self, role: str) -> list[FilePlan]:
        return [f for f in self.files if f.role == role]


def guess_plan(
    paths: list[Path] | list[tuple[Path, str]],
    name: str | None = None,
    store: Store | None = None,
) -> UploadPlan:
    """Sniff files and guess a complete plan (roles, mappings, feedback, scale, name).

    Args:
        paths: file paths, or (path, display name) pairs for uploads saved under temp names.
        name: dataset name; defaults to a name derived from the files.
        store: when given, the whole value column is scanned to pick the rating scale.
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
        # Keep the largest as interactions; the others are probably train/test parts.
        biggest = max((f for f in files if f.role == "interactions"), key=lambda f: f.sniff.size)
        files = [
            f if f.role != "interactions" or f is biggest else replace(f, role="ignore")
            for f in files
        ]
        notes.append("several interaction files found; using the largest, ignoring the others")
    feedback, scale = _guess_feedback(files)
    ds_name = name or _guess_name(sniffs)
    plan = UploadPlan(
        files=tuple(files),
        options=LoadOptions(name=ds_name, feedback=feedback, rating_scale=scale),
        notes=tuple(notes),
    )
    return refine_scale(store, plan) if store is not None else plan


def stage_source(f: FilePlan) -> StageSource:
    """How the store reads an interactions file planned as ``f`` (time format not set)."""
    from recsys_engine.store.staging import StageSource

    m = f.mapping
    assert isinstance(m, InteractionMapping)
    s = f.sniff
    return StageSource(
        path=str(s.path),
        kind=s.kind,
        columns=s.columns,
        user_col=m.user_col,
        item_col=m.item_col,
        value_col=m.value_col,
        time_col=m.time_col,
        sep=s.sep,
        quote=s.quote,
        header=s.header,
        encoding=s.encoding,
    )


def observed_range(store: Store, f: FilePlan) -> tuple[float | None, float | None]:
    """Min and max of an interactions file's value column (first million rows, DuckDB)."""
    m = f.mapping
    if not isinstance(m, InteractionMapping) or not m.value_col or not f.sniff.ok:
        return None, None
    src = stage_source(f)
    return store.value_range(src)


def snap_scale(lo: float, hi: float) -> tuple[float, float] | None:
    """The usual rating scale that contains [lo, hi], or None when it looks like counts."""
    if hi <= 5:
        return (0.0 if lo < 0.5 else 0.5 if lo < 1 else 1.0, 5.0)
    if hi <= 10:
        return (0.0 if lo < 1 else 1.0, 10.0)
    if hi <= 100 and float(hi).is_integer() is False:
        return (0.0, 100.0)
    return None


def refine_scale(store: Store, plan: UploadPlan) -> UploadPlan:
    """Set feedback and rating scale from the full value column's range."""
    inter = plan.by_role("interactions")
    if not inter or plan.options.feedback != "explicit":
        return plan
    lo, hi = observed_range(store, inter[0])
    if lo is None or hi is None:
        return plan
    scale = snap_scale(float(lo), float(hi))
    opts = (
        replace(plan.options, rating_scale=scale)
        if scale
        else replace(plan.options, feedback="implicit", rating_scale=None)
    )
    return replace(plan, options=opts)


def with_sniff(plan: FilePlan, **changes: object) -> FilePlan:
    """Re-sniff-free change of reading options (encoding, sep, header) for one file."""
    sniff = replace(plan.sniff, **changes)
    if "header" in changes or "sep" in changes:
        fresh = sniff_file(sniff.path, sniff.name)
        sniff = _reparse(fresh, sniff.sep, sniff.header, sniff.encoding)
    return replace(plan, sniff=sniff)


def _reparse(s: FileSniff, sep: str, header: bool, encoding: str) -> FileSniff:
    from recsys_engine.ingest.sniff import PREVIEW_ROWS, _unique_names, split_rows

    with s.path.open("rb") as fh:
        raw = fh.read(256 * 1024)
    text = raw.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding, errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()][: PREVIEW_ROWS + 1]
    rows = split_rows(lines, sep, s.quote) if lines else [[]]
    width = max((len(r) for r in rows), default=0)
    if header and rows:
        columns, body = _unique_names(rows[0], width), rows[1:]
    else:
        columns, body = tuple(f"column_{i + 1}" for i in range(width)), rows
    return replace(
        s,
        sep=sep,
        header=header,
        encoding=encoding,
        columns=columns,
        preview=tuple(tuple(r) for r in body),
    )


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
        return FilePlan(s, "interactions", InteractionMapping(user, item, value, time))
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
