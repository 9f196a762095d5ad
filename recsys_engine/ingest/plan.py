"""An upload plan: which file plays which role and how its columns map (DESIGN §3).

``ingest.guess.guess_plan`` makes a first plan from sniffed files; the user then corrects
it column by column. This module holds the plan's types and the changes a user makes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from recsys_engine.errors import ConfigError
from recsys_engine.ingest.sniff import FileSniff, sniff_file

if TYPE_CHECKING:
    from recsys_engine.store import Store
    from recsys_engine.store.staging import StageSource

ROLES = ("interactions", "items", "users", "tags", "tag_names", "ignore")
DUPLICATE_RULES = ("reject", "keep-last", "sum")


@dataclass(frozen=True)
class InteractionMapping:
    """Columns of an interactions file. ``value_col`` is the rating (explicit) or weight.

    ``context_cols`` are categorical columns kept as the context of each interaction
    (device, country, channel, ...); ``derived_context`` asks for fields computed from the
    time column (``hour`` of day, ``weekday``; see ``ingest.context``). ``text_cols`` are
    free-text columns (a review body, a summary) kept as item content: stored per
    interaction and read per item from a split's training fold only.
    """

    user_col: str
    item_col: str
    value_col: str | None = None
    time_col: str | None = None
    context_cols: tuple[str, ...] = ()
    derived_context: tuple[str, ...] = ()
    text_cols: tuple[str, ...] = ()

    @property
    def has_context(self) -> bool:
        return bool(self.context_cols or self.derived_context)


@dataclass(frozen=True)
class ItemMapping:
    """Columns of an item file; ``flag_cols`` are 0/1 columns named after categories.

    ``combine_rows``: rows that repeat an id are combined into one item on purpose (text
    joined, categories united, numbers averaged) instead of being refused.
    """

    id_col: str
    title_col: str | None = None
    text_cols: tuple[str, ...] = ()
    categories_col: str | None = None
    categories_sep: str = "|"
    numeric_cols: tuple[str, ...] = ()
    flag_cols: tuple[str, ...] = ()
    combine_rows: bool = False


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
    #: Explicit feedback whose scale the load decides from the whole value column, in its
    #: own read (``feedback_for_range``): the usual scale containing every value, or
    #: implicit weights when none does (counts). The CLI's default; the upload page shows a
    #: scale guessed from the first million rows instead, before the user confirms it.
    scale_at_load: bool = False

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


def stage_source(f: FilePlan) -> StageSource:
    """How the store reads an interactions file planned as ``f`` (time format not set)."""
    from recsys_engine.store.readers import StageSource

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
        context_cols=tuple(m.context_cols),
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


def feedback_for_range(lo: float, hi: float) -> tuple[str, tuple[float, float] | None]:
    """Feedback kind and scale for values spanning [lo, hi]: explicit on the usual scale
    containing them, or implicit (no scale) when none does — the values look like counts."""
    scale = snap_scale(float(lo), float(hi))
    return ("explicit", scale) if scale else ("implicit", None)


#: Reads (min, max) of a planned interactions file's value column; (None, None) when
#: there is nothing to read.
RangeReader = Callable[[FilePlan], tuple[float | None, float | None]]


def refine_scale(plan: UploadPlan, observe: RangeReader) -> UploadPlan:
    """Set an explicit plan's feedback and rating scale from its value column's range as
    ``observe`` reads it (``observed_range`` with a store: the first million rows, what the
    upload page shows before the user confirms); unchanged when nothing was observed."""
    inter = plan.by_role("interactions")
    if not inter or plan.options.feedback != "explicit":
        return plan
    lo, hi = observe(inter[0])
    if lo is None or hi is None:
        return plan
    feedback, scale = feedback_for_range(lo, hi)
    return replace(plan, options=replace(plan.options, feedback=feedback, rating_scale=scale))


def scale_at_load(plan: UploadPlan) -> UploadPlan:
    """Leave a guessed explicit plan's scale to the load (``LoadOptions.scale_at_load``): it
    reads every value anyway, so the scale comes from the whole column at no extra read."""
    inter = plan.by_role("interactions")
    m = inter[0].mapping if inter else None
    if plan.options.feedback != "explicit" or not isinstance(m, InteractionMapping):
        return plan
    if not m.value_col:
        return plan
    return replace(plan, options=replace(plan.options, scale_at_load=True))


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
