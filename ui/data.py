"""The upload → map → load flow of the Data page (widgets only; logic is in ingest)."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from recsys_engine.ingest import (
    DUPLICATE_RULES,
    ROLES,
    FilePlan,
    InteractionMapping,
    ItemMapping,
    LoadOptions,
    TagMapping,
    TagNamesMapping,
    UploadPlan,
    UserMapping,
    guess_plan,
)
from recsys_engine.ingest.context import DERIVED_FIELDS, MAX_CONTEXT_VALUES
from recsys_engine.ingest.plan import observed_range, refine_scale, with_sniff
from recsys_engine.item_content import REVIEW_CONTENT_NOTE
from recsys_engine.paths import STALE_UPLOAD_SECONDS, clear_uploads, upload_root
from ui import state
from ui.resources import get_store
from ui.text import md_escape

NONE = "— none —"
PROBLEMS_PLAN = "upload_problems_plan"  # the plan whose failed load found UPLOAD_PROBLEMS
SEPARATORS = {
    ",": "comma ,",
    "\t": "tab",
    ";": "semicolon ;",
    "|": "pipe |",
    "::": "double colon ::",
    " ": "space",
}
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "utf-16"]
DERIVED_LABELS = {"hour": "hour of day (00–23)", "weekday": "weekday (Mon–Sun)"}
ROLE_LABELS = {
    "interactions": "Interactions (user, item, rating or weight, time, review text)",
    "items": "Items (id, title, text, categories, numbers)",
    "users": "Users (id and features)",
    "tags": "Item tags (become item text)",
    "tag_names": "Tag names (id → tag text)",
    "ignore": "Ignore this file",
}


def safe_name(name: str) -> str:
    """A file name that cannot leave the upload folder or confuse a shell."""
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")
    return base[:120] or "upload"


def save_uploads(files: list) -> UploadPlan:
    """Write uploaded files to a fresh folder next to the database and guess a plan."""
    old = st.session_state.get(state.UPLOAD_DIR)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    root = upload_root(get_store().path)
    clear_uploads(root, older_than=STALE_UPLOAD_SECONDS)
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload_", dir=root))
    st.session_state[state.UPLOAD_DIR] = str(folder)
    pairs = []
    for i, f in enumerate(files):
        path = folder / f"{i:02d}_{safe_name(f.name)}"
        path.write_bytes(f.getbuffer())
        pairs.append((path, f.name))
    # the scale the form shows, from the read its caption reuses
    return refine_scale(guess_plan(pairs), values_seen)


def discard_upload() -> None:
    """Forget the upload in progress and delete its temp files."""
    folder = st.session_state.get(state.UPLOAD_DIR)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    st.session_state[state.UPLOAD_DIR] = None
    st.session_state[state.UPLOAD_PLAN] = None
    st.session_state[state.UPLOAD_PROBLEMS] = None
    st.session_state[state.UPLOAD_KEY] += 1


def remember_problems(plan: UploadPlan | None, problems: list | None) -> None:
    """Keep the problems of a failed load together with the plan (mapping) that produced
    them, so they can be dropped as soon as the mapping changes."""
    st.session_state[state.UPLOAD_PROBLEMS] = problems
    st.session_state[PROBLEMS_PLAN] = plan


def current_problems(plan: UploadPlan | None) -> list | None:
    """The last failed load's problems while ``plan`` is still the one that produced them.

    A problem found with an earlier mapping says nothing about the current one, so a
    changed mapping, reading option or dataset option clears them.
    """
    problems = st.session_state[state.UPLOAD_PROBLEMS]
    if problems and st.session_state.get(PROBLEMS_PLAN) != plan:
        remember_problems(None, None)
        return None
    return problems


def _pick(
    label: str,
    options: list[str],
    current: str | None,
    key: str,
    optional: bool = False,
    help: str | None = None,
) -> str | None:
    opts = ([NONE] if optional else []) + options
    value = current if current in options else (NONE if optional else options[0])
    choice = st.selectbox(label, opts, index=opts.index(value), key=key, help=help)
    return None if choice == NONE else choice


def _multi(
    label: str,
    options: list[str],
    current: tuple[str, ...],
    key: str,
    help: str | None = None,
) -> tuple[str, ...]:
    return tuple(
        st.multiselect(
            label, options, default=[c for c in current if c in options], key=key, help=help
        )
    )


def edit_file(f: FilePlan, i: int, k: str) -> FilePlan:
    """Widgets for one file: role, reading options, preview, column mapping."""
    s = f.sniff
    role = st.selectbox(
        "This file holds",
        list(ROLES),
        index=ROLES.index(f.role),
        format_func=ROLE_LABELS.get,
        key=f"{k}_role_{i}",
    )
    for p in s.problems:
        (st.error if p.severity == "error" else st.warning)(md_escape(p))
    if role == "ignore" or not s.ok:
        return replace(f, role=role)
    if s.kind == "csv":
        c1, c2, c3 = st.columns(3)
        seps = list(SEPARATORS)
        sep = c1.selectbox(
            "Delimiter",
            seps,
            index=seps.index(s.sep) if s.sep in seps else 0,
            format_func=SEPARATORS.get,
            key=f"{k}_sep_{i}",
        )
        enc = c2.selectbox(
            "Encoding", ENCODINGS, index=ENCODINGS.index(s.encoding), key=f"{k}_enc_{i}"
        )
        header = c3.checkbox("First line is a header", value=s.header, key=f"{k}_hdr_{i}")
        if (sep, enc, header) != (s.sep, s.encoding, s.header):
            f = with_sniff(f, sep=sep, encoding=enc, header=header)
            s = f.sniff
    cols = list(s.columns)
    if s.preview:
        width = len(cols)
        rows = [list(r[:width]) + [""] * (width - len(r)) for r in s.preview[:8]]
        st.dataframe(pd.DataFrame(rows, columns=cols), hide_index=True, width="stretch")
    m = f.mapping
    c1, c2 = st.columns(2)
    if role == "interactions":
        m = m if isinstance(m, InteractionMapping) else InteractionMapping(cols[0], cols[-1])
        with c1:
            user_col = _pick("User id column", cols, m.user_col, f"{k}_u_{i}")
            item_col = _pick("Item id column", cols, m.item_col, f"{k}_i_{i}")
        with c2:
            value_col = _pick(
                "Rating or weight column",
                cols,
                m.value_col,
                f"{k}_v_{i}",
                True,
                help="None = implicit feedback: every row counts as one interaction",
            )
            time_col = _pick(
                "Timestamp column",
                cols,
                m.time_col,
                f"{k}_t_{i}",
                True,
                help="unix seconds (or ms) or date strings",
            )
        mapped = {user_col, item_col, value_col, time_col}
        text_cols = _multi(
            "Review text (item content)",
            [c for c in cols if c not in mapped],
            m.text_cols,
            f"{k}_rtx_{i}",
            help="Free-text columns such as a review body or summary. Content-based and "
            "Hybrid learn each item's words from them.",
        )
        if text_cols:
            st.caption(REVIEW_CONTENT_NOTE)
        used = mapped | set(text_cols)
        c1, c2 = st.columns(2)
        with c1:
            context_cols = _multi(
                "Context columns (device, country, channel…)",
                [c for c in cols if c not in used],
                m.context_cols,
                f"{k}_ctx_{i}",
                help="Categorical facts about each event (at most "
                f"{MAX_CONTEXT_VALUES:,} values each); context-aware models use them.",
            )
        derived = c2.multiselect(
            "Context derived from the timestamp",
            list(DERIVED_FIELDS),
            default=[d for d in m.derived_context if d in DERIVED_FIELDS],
            format_func=DERIVED_LABELS.get,
            key=f"{k}_dctx_{i}",
            disabled=time_col is None,
            help="Needs a timestamp column.",
        )
        m = InteractionMapping(
            user_col,
            item_col,
            value_col,
            time_col,
            context_cols=context_cols,
            derived_context=tuple(derived) if time_col else (),
            text_cols=text_cols,
        )
    elif role == "items":
        m = m if isinstance(m, ItemMapping) else ItemMapping(cols[0])
        with c1:
            id_col = _pick("Item id column", cols, m.id_col, f"{k}_iid_{i}")
            title = _pick("Title column", cols, m.title_col, f"{k}_ttl_{i}", True)
            text = _multi("Text columns", cols, m.text_cols, f"{k}_txt_{i}")
        with c2:
            cats = _pick("Categories column", cols, m.categories_col, f"{k}_cat_{i}", True)
            cat_sep = st.text_input(
                "Category separator (e.g. | or ;)",
                m.categories_sep,
                max_chars=3,
                key=f"{k}_csep_{i}",
            )
            numeric = _multi("Numeric feature columns", cols, m.numeric_cols, f"{k}_num_{i}")
        flags = _multi("0/1 category flag columns", cols, m.flag_cols, f"{k}_flg_{i}")
        combine = st.checkbox(
            "Combine rows per item (rows that repeat an item id become one item)",
            value=m.combine_rows,
            key=f"{k}_comb_{i}",
            help="Text is joined, categories united and numbers averaged. Off: a repeated "
            "id is refused with the count of repeated rows.",
        )
        m = ItemMapping(id_col, title, text, cats, cat_sep or "|", numeric, flags, combine)
    elif role == "users":
        m = m if isinstance(m, UserMapping) else UserMapping(cols[0])
        id_col = _pick("User id column", cols, m.id_col, f"{k}_uid_{i}")
        feats = _multi(
            "Feature columns", [c for c in cols if c != id_col], m.feature_cols, f"{k}_uf_{i}"
        )
        m = UserMapping(id_col, feats)
    elif role == "tags":
        m = m if isinstance(m, TagMapping) else TagMapping(cols[0], cols[-1])
        m = TagMapping(
            _pick("Item id column", cols, m.item_col, f"{k}_tgi_{i}"),
            _pick("Tag column", cols, m.tag_col, f"{k}_tgt_{i}"),
        )
    elif role == "tag_names":
        m = m if isinstance(m, TagNamesMapping) else TagNamesMapping(cols[0], cols[-1])
        m = TagNamesMapping(
            _pick("Tag id column", cols, m.id_col, f"{k}_tni_{i}"),
            _pick("Tag text column", cols, m.value_col, f"{k}_tnv_{i}"),
        )
    return replace(f, role=role, mapping=m)


def values_seen(f: FilePlan) -> tuple[float | None, float | None]:
    """The value column's range in the file's first million rows, read once per file,
    reading options and value column: every widget change reruns this form, and the read
    takes about a second on a million-row review file."""
    m = f.mapping
    s = f.sniff
    try:
        stat = s.path.stat()
    except OSError:
        return None, None
    value_col = m.value_col if isinstance(m, InteractionMapping) else None
    key = (
        str(s.path), stat.st_size, stat.st_mtime_ns, s.kind, s.encoding, s.sep, s.quote,
        s.header, s.columns, value_col,
    )  # fmt: skip
    return _values_seen(key, f)


@st.cache_data(max_entries=32, show_spinner=False)
def _values_seen(key: tuple, _f: FilePlan) -> tuple[float | None, float | None]:
    """``observed_range`` cached by ``key`` (the plan itself is not hashed)."""
    return observed_range(get_store(), _f)


def edit_options(plan: UploadPlan, k: str) -> LoadOptions:
    """Dataset name, feedback type, rating scale and the duplicate rule."""
    o = plan.options
    name = st.text_input("Dataset name", o.name, max_chars=100, key=f"{k}_name")
    c1, c2, c3 = st.columns(3)
    feedback = c1.radio(
        "Feedback",
        ["explicit", "implicit"],
        index=0 if o.feedback == "explicit" else 1,
        key=f"{k}_fb",
        help="explicit: ratings on a scale · implicit: clicks, plays, purchases",
    )
    lo, hi = o.rating_scale or (1.0, 5.0)
    inter = plan.by_role("interactions")
    if feedback == "explicit":
        lo = c2.number_input("Lowest rating", value=float(lo), step=0.5, key=f"{k}_lo")
        hi = c2.number_input("Highest rating", value=float(hi), step=0.5, key=f"{k}_hi")
        if inter:
            seen = values_seen(inter[0])
            if seen[0] is not None:
                c2.caption(f"Values in the file (first million rows): {seen[0]:g} to {seen[1]:g}")
    else:
        c2.caption("Implicit: the mapped value column (if any) is a weight such as a play count.")
    dup_labels = {
        "reject": "Reject the upload",
        "keep-last": "Keep the last row",
        "sum": "Sum the weights",
    }
    dups = c3.radio(
        "Duplicate (user, item) rows",
        list(DUPLICATE_RULES),
        index=DUPLICATE_RULES.index(o.duplicates),
        format_func=dup_labels.get,
        key=f"{k}_dup",
    )
    return LoadOptions(
        name=name,
        feedback=feedback,
        rating_scale=(float(lo), float(hi)) if feedback == "explicit" else None,
        duplicates=dups,
    )
