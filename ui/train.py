"""Train page widgets: split chooser/creator and the model picker with config forms (the
run monitor is ``ui/run_monitor.py``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
import streamlit as st

from recsys_engine.errors import ConfigError, RecsysError
from recsys_engine.explain.wording import join_names
from recsys_engine.item_content import REVIEW_CONTENT_NOTE, has_review_content, probe_item_content
from recsys_engine.models import FAMILIES, create_model, list_models
from recsys_engine.models.data import TrainData, split_order_problem
from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.paths import default_db_path
from recsys_engine.splits import (
    STRATEGIES,
    STRATEGY_LABELS,
    SplitConfig,
    create_split,
    preview_split,
    suggested_config,
)
from ui.config_form import config_widgets
from ui.resources import get_runner, get_store
from ui.text import md_escape

NEW_SPLIT = -1
#: The settings that matter for each split strategy (the others keep their defaults).
SPLIT_FIELDS = {
    "random": ("test_fraction", "validation_fraction", "min_interactions", "seed"),
    "temporal": ("test_fraction", "validation_fraction", "cut_date"),
    "leave-last": ("n_last", "validation_last", "min_interactions"),
    "cold-items": ("test_fraction", "validation_fraction", "seed"),
}


def split_stats_table(stats: dict) -> None:
    """Counts of a split as metric tiles, then its warnings."""
    c = st.columns(5)
    c[0].metric("Train rows", f"{stats['train_rows']:,}")
    c[1].metric("Validation rows", f"{stats['validation_rows']:,}")
    c[2].metric("Test rows", f"{stats['test_rows']:,}")
    c[3].metric(
        "Test users",
        f"{stats['test_users']:,}",
        help=f"{stats['test_users_unseen']:,} of them have no training interactions",
    )
    c[4].metric("Test items unseen in train", f"{stats['test_items_unseen']:,}")
    for w in stats.get("warnings", []):
        st.warning(w, icon="⚠️")
    for note in stats.get("notes", []):  # splits stored before notes existed have none
        st.caption(f"ℹ️ {note}")


#: Why the proposed split is proposed, by whether the dataset has timestamps.
SUGGESTED_SPLIT_NOTE = {
    True: (
        "Suggested for this dataset: each user's last interaction is the test, the one "
        "before it the validation. It keeps time order (nothing from the future in "
        "training, and the sequence models can run), tests every user, and lets the deep "
        "models stop early and the Tune panel search on the validation fold."
    ),
    False: (
        "Suggested for this dataset (it has no timestamps, so there is no order to keep): "
        "20% of each user's interactions for test and 10% of the rest for validation, "
        "so the deep models can stop early and the Tune panel can search."
    ),
}


def split_section(dataset_id: int) -> int | None:
    """Pick an existing split or create one (preview first); returns the chosen split id."""
    store = get_store()
    splits = store.list_splits(dataset_id)
    labels = {NEW_SPLIT: "New split…"}
    for r in splits.itertuples():
        labels[int(r.id)] = str(r.name)  # run counts: in the monitor below, always current
    ids = list(labels)
    default = ids[1] if len(ids) > 1 else NEW_SPLIT
    key = f"split_choice_{dataset_id}"
    pending = st.session_state.pop(f"split_pending_{dataset_id}", None)
    if pending in ids:
        st.session_state[key] = pending
    if st.session_state.get(key) not in ids:
        st.session_state[key] = default
    choice = st.selectbox(
        "Split",
        ids,
        format_func=labels.get,
        key=key,
        help="Runs on the same split pair up user by user on the Compare page.",
    )
    if choice != NEW_SPLIT:
        split_stats_table(store.get_split(choice)["stats"])
        return choice
    st.caption(
        "A split marks every interaction train, validation or test. "
        "The same settings always give the same split."
    )
    timed = bool(store.get_dataset(dataset_id)["has_timestamps"])
    suggested = suggested_config(timed)
    strategy = st.selectbox(
        "Strategy",
        list(STRATEGIES),
        index=STRATEGIES.index(suggested.strategy),
        key=f"split_strategy_{dataset_id}",
        format_func=lambda s: STRATEGY_LABELS.get(s, s),
    )
    note = st.empty()  # the "suggested" note, while the form holds the suggested split
    relevant = SPLIT_FIELDS[strategy]
    skip = tuple(f for f in SplitConfig.__dataclass_fields__ if f not in relevant)
    start = dataclasses.asdict(suggested) if strategy == suggested.strategy else {}
    values = config_widgets(
        SplitConfig, {**start, "strategy": strategy}, f"split_{dataset_id}_{strategy}", skip=skip
    )
    name = st.text_input(
        "Split name (optional)",
        key=f"split_name_{dataset_id}",
        placeholder="default: named from the strategy and its settings",
    )
    try:
        config = SplitConfig.from_dict({**values, "strategy": strategy})
    except ConfigError as exc:
        st.error(md_escape(exc))
        return None
    if config == suggested:
        note.caption(SUGGESTED_SPLIT_NOTE[timed])
    row = st.container(horizontal=True)  # the two buttons side by side, at the left
    if row.button("Preview counts", key=f"split_preview_{dataset_id}"):
        try:
            st.session_state[f"split_preview_stats_{dataset_id}"] = (
                config,
                preview_split(store, dataset_id, config).stats,
            )
        except RecsysError as exc:
            st.error(md_escape(exc))
    shown = st.session_state.get(f"split_preview_stats_{dataset_id}")
    if shown and shown[0] == config:
        split_stats_table(shown[1])
    if row.button("Create split", type="primary", key=f"split_create_{dataset_id}"):
        try:
            sid = create_split(store, dataset_id, config, name=name.strip() or None)
        except RecsysError as exc:
            st.error(md_escape(exc))
        else:
            st.session_state[f"split_pending_{dataset_id}"] = sid
            st.rerun()
    return None


HOW_TO_ADD_METADATA = (
    "To provide it, upload the interactions again on the Data page, either with review "
    "text columns mapped as item content or together with an items file (item id plus a "
    "title, text, categories or numeric columns)."
)


@st.cache_data(max_entries=64, show_spinner=False)
def _content_check(db_path: str, dataset_id: int, name: str) -> tuple[bool, str | None]:
    """(can run, why not) of a model on a dataset's item metadata, from the model's own
    feature hook: the same check that would fail after queuing, asked before it."""
    model = create_model(name)
    hook = getattr(model, "_features", None)  # only history-pooled towers read content
    if hook is None:
        return True, None
    items = probe_item_content(get_store(), dataset_id)
    ids = np.asarray(items["item_id"], dtype=object).astype(str)
    probe = TrainData(
        matrix=sp.csr_matrix((0, len(ids)), dtype=np.float32),
        user_ids=np.array([], dtype=object),
        item_ids=ids,
        items=items,
    )
    try:
        features = hook(probe)
    except ConfigError as exc:
        return False, str(exc)
    reads_content = hasattr(model.config, "feature_options")  # configs with content options
    if features is None and reads_content:
        return True, "this dataset has no item metadata, so it trains without its content part"
    return True, None


def content_check(dataset_id: int, name: str) -> tuple[bool, str | None]:
    """Whether model ``name`` can run on the dataset, and a note saying why not (cached)."""
    return _content_check(str(default_db_path()), int(dataset_id), name)


#: Why order-aware (sequence) models are greyed out on a split that does not keep time order.
ORDER_NOTE = (
    "It learns what comes next from the order of each user's events, which this split does "
    f"not keep: create a '{STRATEGY_LABELS['leave-last']}' or "
    f"'{STRATEGY_LABELS['temporal']}' split above."
)


def order_note(titles: list[str]) -> str:
    """One note for the order-aware models greyed out in one column (said once, not once
    per model)."""
    if len(titles) == 1:
        return f"{titles[0]} needs a split that keeps time order. {ORDER_NOTE}"
    plural = ORDER_NOTE.replace("It learns", "They learn", 1)
    return f"{join_names(titles)} need a split that keeps time order. {plural}"


def model_section(dataset_id: int, split_id: int | None = None) -> list[tuple[str, dict]]:
    """Model checkboxes grouped by family, a config form per chosen model; a note when a
    deep model is picked on a split without a validation fold (no early stopping)."""
    preset = st.radio(
        "Preset",
        ["Quick", "Default", "Thorough"],
        index=1,
        horizontal=True,
        key="train_preset",
        help="Quick: fewer epochs and smaller deep models, for a first look. Thorough: longer "
        "training. Under each chosen model: how long it took on this dataset the last time "
        "it ran with the same settings.",
    )
    chosen: list[tuple[str, dict]] = []
    cols = st.columns(len(FAMILIES))
    picked = []
    strategy = None if split_id is None else get_store().get_split(int(split_id))["strategy"]
    unordered = strategy is not None and split_order_problem(strategy)
    for col, family in zip(cols, FAMILIES, strict=True):
        col.markdown(f"**{family.capitalize()}**")
        need_order = []  # greyed out for the split's order: one note under the column
        for spec in list_models(family):
            title = spec.title or spec.name
            key = f"pick_{spec.name}"
            if unordered and spec.cls.needs_order:
                st.session_state[key] = False  # it would be refused on this split
                col.checkbox(
                    title,
                    key=key,
                    disabled=True,
                    help=f"{spec.description}. Not available on this split: {ORDER_NOTE}",
                )
                need_order.append(title)
                continue
            runnable, why = content_check(dataset_id, spec.name)
            if not runnable:
                st.session_state[key] = False  # never queued: it would fail on this dataset
                col.checkbox(
                    title,
                    key=key,
                    disabled=True,
                    help=f"{spec.description}. Not available: {why}. {HOW_TO_ADD_METADATA}",
                )
                col.caption(f"Needs item metadata, which this dataset lacks. {HOW_TO_ADD_METADATA}")
                continue
            if col.checkbox(title, key=key, help=spec.description):
                picked.append(spec)
            if why:
                col.caption(f"{title}: {why}.")
        if need_order:
            col.caption(order_note(need_order))
    if has_review_content(get_store(), dataset_id):
        st.caption(f"Content-based and Hybrid: {REVIEW_CONTENT_NOTE}")
    deep = [s for s in picked if issubclass(s.config_class, KerasTrainConfig)]
    if deep and split_id is not None and not _validation_rows(split_id):
        names = join_names([s.title or s.name for s in deep])
        its, it = ("its", "it") if len(deep) == 1 else ("their", "them")
        st.info(
            f"This split has no validation fold, so {names} will train for all of {its} "
            f"epochs: nothing stops {it} early or keeps {its} best epoch. To let {it} stop "
            "early, create a split with a validation fraction (e.g. 0.1).",
            icon="ℹ️",
        )
    for spec in picked:
        cls = spec.config_class
        presets = getattr(cls, "presets", {}) or {}
        base = {**spec.default_config(strategy), **presets.get(preset.lower(), {})}
        title = spec.title or spec.name
        what = spec.description.removeprefix(f"{title}: ")  # not "Two-tower — Two-tower: …"
        with st.expander(f"{title} — {what}", expanded=False):
            # a split with its own defaults for this model gets fresh widgets
            own = f"_{strategy}" if strategy in cls.split_defaults else ""
            values = config_widgets(cls, base, f"cfg_{spec.name}_{preset}{own}")
        note = cls.split_notes.get(strategy or "")
        if note:
            st.caption(f"{spec.title or spec.name} {note}")
        st.caption(_time_note(dataset_id, spec.name, spec.title or spec.name, values))
        chosen.append((spec.name, values))
    return chosen


def _time_note(dataset_id: int, name: str, title: str, values: dict) -> str:
    """How long ``name`` with these settings took here last time (fit + evaluation)."""
    from recsys_engine.runs import last_duration

    try:
        found = last_duration(get_store(), dataset_id, name, values)
    except ConfigError:  # settings being edited into something invalid
        return f"{title}: these settings are not valid yet."
    if found is None:
        return f"{title}: not trained with these settings on this dataset yet."
    run_id, seconds = found
    took = f"{seconds:.0f} s" if seconds >= 1 else "under a second"
    return f"{title} with these settings took {took} here last time (run {run_id})."


def queue_models(split_id: int, chosen: list[tuple[str, dict]]) -> list[int]:
    """Validate every config first, then queue all runs; nothing queued on a bad config."""
    from recsys_engine.runs import check_run, queue_run

    for name, values in chosen:
        check_run(get_store(), split_id, name, values)  # raises ConfigError
    runner = get_runner()
    ids = []
    for name, values in chosen:
        run_id = queue_run(get_store(), split_id, name, values)
        runner.submit(run_id)
        ids.append(run_id)
    return ids


def _validation_rows(split_id: int) -> int:
    """Validation interactions of a split (0 when it has no validation fold)."""
    return int(get_store().get_split(split_id)["stats"].get("validation_rows", 0))
