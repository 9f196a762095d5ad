"""Tune panel of the Train page and its live study monitor (the study browser is in
``ui.studies``, the Compare page's fair-budget action in ``ui.compare_fair``).

Studies run in the app's ``JobRunner`` (``recsys_engine.jobs.StudyJob``); their trials are
read back from Optuna's storage by study id, so the monitor shows the same thing in any tab.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_engine.errors import ConfigError, RecsysError
from recsys_engine.jobs import StudyJob
from recsys_engine.models import get_model, list_models, model_title
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.tuning.charts import best_so_far_figure
from recsys_engine.tuning.space_table import COLUMNS, overrides_from_rows, space_rows
from recsys_engine.tuning.study import duration_text
from recsys_engine.tuning.trials import VALUE_COLUMN, study_trials, trials_table
from ui import state
from ui.resources import get_runner, get_store
from ui.text import md_escape

TRAIN, TUNE = "Train with chosen settings", "Tune settings first"
STUDY_ICON = {"queued": "⏳", "running": "🔄", "succeeded": "✅", "failed": "❌", "cancelled": "🚫"}
WHY_VALIDATION = (
    "Tuning tries many settings and keeps the best one, judged on the **validation** "
    "fold: a slice of each user's training history held back for this. The test fold "
    "is used once, on the final run, so the test score stays an honest estimate."
)


def mode_picker() -> str:
    """Train with the settings as set, or tune them first (the Tune panel)."""
    return (
        st.segmented_control(
            "How",
            [TRAIN, TUNE],
            default=TRAIN,
            key="train_mode",
            label_visibility="collapsed",
            help="Tune: search each model's settings on the validation fold, then train the "
            "best settings and test them once.",
        )
        or TRAIN
    )


def validation_rows(split_id: int) -> int:
    return int(get_store().get_split(split_id)["stats"].get("validation_rows", 0))


def offer_validation_split(dataset_id: int, split_id: int) -> None:
    """Say that the split has no validation fold and offer the same split with one."""
    store = get_store()
    split = store.get_split(split_id)
    st.warning(
        f"**Split “{md_escape(split['name'])}” has no validation fold, so it cannot be used "
        f"for tuning.** {WHY_VALIDATION}",
        icon="⚠️",
    )
    params = dict(split["params"])
    leave_last = params.get("strategy") == "leave-last"
    c1, c2 = st.columns([2, 1])
    if leave_last:
        amount = c1.number_input(
            "Events per user held back for validation", 1, 5, 1, key="tune_val_last"
        )
        params["validation_last"] = int(amount)
    else:
        amount = c1.number_input(
            "Share of each user's training interactions held back for validation",
            0.05,
            0.5,
            0.1,
            0.05,
            key="tune_val_fraction",
        )
        params["validation_fraction"] = float(amount)
    c2.write("")
    if c2.button("Create this split with a validation fold", key="tune_make_split"):
        try:
            config = SplitConfig.from_dict(params)
            sid = create_split(store, dataset_id, config)
        except RecsysError as exc:
            st.error(md_escape(exc))
            return
        st.session_state[f"split_pending_{dataset_id}"] = sid
        st.rerun()


def _space_editor(name: str) -> dict:
    """The model's search space as an editable table; returns its overrides."""
    cls = get_model(name).config_class
    rows = pd.DataFrame(space_rows(cls), columns=list(COLUMNS))
    edited = st.data_editor(
        rows,
        key=f"tune_space_{name}",
        hide_index=True,
        width="stretch",
        disabled=["Setting", "Scale"],
        column_config={
            "Tune": st.column_config.CheckboxColumn(
                help="Untick to keep one value for every trial (the value on the right)."
            ),
            "Values tried": st.column_config.TextColumn(
                help="A range 'low – high' to narrow or widen, or the values to try, comma "
                "separated. One value fixes the setting."
            ),
            "Value when not tuned": st.column_config.TextColumn(
                help="Used in every trial when Tune is unticked (the default until edited)."
            ),
        },
    )
    return overrides_from_rows(cls, edited.to_dict("records"))


def budget_inputs(key: str) -> tuple[int | None, float | None]:
    """Trials and minutes per model; 0 means no limit on that one, and the labels say so
    (a bare "0" in a minutes box reads as "no time at all"). Minutes are whole minutes: a
    study's trials take seconds to minutes each, so finer steps would promise a precision
    the budget check (between trials) does not have."""
    c1, c2 = st.columns(2)
    trials = c1.number_input(
        "Trials per model (0 = no limit)",
        0,
        500,
        20,
        key=f"{key}_trials",
        help="How many settings to try for each model. 0 means no limit on the number of "
        "trials; then set a number of minutes.",
    )
    minutes = c2.number_input(
        "Minutes per model (0 = no time limit)",
        0,
        600,
        0,
        1,
        format="%d",
        key=f"{key}_minutes",
        help="No new trial starts after this many minutes (the running one finishes). "
        "0 means no time limit: the number of trials alone ends the study.",
    )
    return (int(trials) or None), (float(minutes) or None)


def tune_panel(dataset_id: int, split_id: int) -> None:
    """Pick models, a budget and each model's search space; start one study per model."""
    from ui.train import content_check

    if not validation_rows(split_id):
        offer_validation_split(dataset_id, split_id)
        return
    st.caption(WHY_VALIDATION)
    runnable = [s for s in list_models() if content_check(dataset_id, s.name)[0]]
    names = st.multiselect(
        "Models to tune",
        [s.name for s in runnable],
        format_func=model_title,
        key="tune_models",
        placeholder="Choose one or more models",
    )
    trials, minutes = budget_inputs("tune")
    overrides: dict[str, dict] = {}
    problems = []
    for name in names:
        with st.expander(f"Search space of {model_title(name)}", expanded=len(names) == 1):
            try:
                overrides[name] = _space_editor(name)
            except ConfigError as exc:
                problems.append(str(exc))
                st.error(md_escape(exc))
    label = f"Tune {len(names)} model{'s' if len(names) != 1 else ''}"
    place = f"tune_{split_id}"
    if st.button(label, type="primary", disabled=not names, key="tune_start"):
        state.flash(place, None)
        if problems:
            st.error("Fix the search space first: " + md_escape("; ".join(problems)))
            return
        try:
            jobs = start_studies(split_id, names, trials, minutes, overrides)
        except RecsysError as exc:
            st.error(md_escape(exc))
            return
        state.flash(
            place,
            f"Started {len(jobs)} stud{'ies' if len(jobs) != 1 else 'y'}. They run one after "
            "another in the background; follow them below (leaving the page does not stop "
            "them).",
        )
    state.show_flash(place)


def start_studies(
    split_id: int,
    names: list[str],
    trials: int | None,
    minutes: float | None,
    overrides: dict[str, dict] | None = None,
) -> list[int]:
    """Check every model's space and the budget, then queue one study per model."""
    from recsys_engine.models.search_space import narrow_space

    if trials is None and minutes is None:
        raise ConfigError("set a budget: a number of trials and/or minutes per model")
    if not validation_rows(split_id):
        raise ConfigError("this split has no validation fold; tuning needs one")
    for name in names:
        space, _ = narrow_space(get_model(name).config_class, (overrides or {}).get(name))
        if not space:
            raise ConfigError(f"{model_title(name)}: every setting is fixed, nothing to tune")
    runner = get_runner()
    return [
        runner.submit_study(
            StudyJob(
                split_id, name, trials=trials, minutes=minutes, space=(overrides or {}).get(name)
            )
        )
        for name in names
    ]


# -- live monitor --------------------------------------------------------------------------
def budget_text(job: StudyJob) -> str:
    parts = []
    if job.trials:
        parts.append(f"{job.trials} trials")
    if job.minutes:
        parts.append(f"{job.minutes:g} minutes")
    return " or ".join(parts)


def study_card(job: StudyJob) -> None:
    """One study job: status, trials done, cancel, live trials table and best-so-far chart."""
    store = get_store()
    title = model_title(job.model)
    rows = study_trials(store, job.study_id) if job.study_id is not None else []
    table = trials_table(rows)
    done = int((~table["Status"].isin(["running", "waiting"])).sum())
    best = table["Best so far"].dropna()
    with st.container(border=True):
        head, btn = st.columns([5, 1])
        name = f"Study {job.study_id}" if job.study_id is not None else "Study (not started)"
        shown = "stopping after the current trial" if job.stopping else job.status
        text = f"{STUDY_ICON.get(job.status, '')} **{name} · Tuning {title}** — {shown}"
        text += f" · {done} of {budget_text(job)} done"
        if not best.empty:
            text += f" · best validation NDCG@10 so far **{best.iloc[-1]:.4f}**"
        head.markdown(text)
        if job.status in ("queued", "running"):
            if not job.stopping and btn.button("Cancel", key=f"cancel_study_{job.job_id}"):
                get_runner().cancel_study(job.job_id)
                st.toast(f"Cancelling the study of {title}: it stops after the current trial.")
            if job.trials:
                st.progress(min(1.0, done / job.trials), text=f"{done} / {job.trials} trials")
        if job.status == "queued":
            st.caption("Waiting for the studies and runs queued before it to finish.")
        elif job.status == "running" and job.trials and done >= job.trials:
            st.caption("All trials done: training the best settings as a run, then testing it.")
        if job.status == "succeeded" and job.run_id is not None:
            tuned_run_note(job.run_id)
        elif job.status == "cancelled":
            st.info("Cancelled: a study cut short chooses nothing, so no run was trained from it.")
        elif job.status == "failed" and job.error:
            st.error(md_escape(job.error))
        if not table.empty:
            left, right = st.columns([3, 2])
            left.dataframe(
                table,
                hide_index=True,
                width="stretch",
                height=min(38 + 35 * len(table), 300),
                column_config={
                    VALUE_COLUMN: st.column_config.NumberColumn(format="%.4f"),
                    "Best so far": st.column_config.NumberColumn(format="%.4f"),
                },
            )
            if best.empty:
                right.caption("The chart of the best score so far appears when a trial ends.")
            else:
                right.plotly_chart(
                    best_so_far_figure(table), width="stretch", key=f"study_fig_{job.job_id}"
                )


def tuned_text(tuning: dict) -> str:
    """How a run was tuned, for people: trials, the study's id and how long it took
    (``"Tuned: best of 6 trials on the validation fold (study 1, which took 1 second)"``)."""
    took = duration_text(float(tuning["minutes"]))
    return (
        f"Tuned: best of {tuning['trials']} trials on the validation fold "
        f"(study {tuning['study_id']}, which took {took})"
    )


def tuned_run_note(run_id: int) -> None:
    """The run a study trained from its best trial, and its one test score."""
    from recsys_engine.runs import run_metric_dict

    run = get_store().get_run(run_id)
    tuning = run["tuning"] or {}
    test = run_metric_dict(get_store(), run_id).get("ndcg@10")
    shown = "–" if test is None else f"{test:.4f}"
    best = tuning.get("validation_ndcg@10")
    found = "" if best is None else f" (validation NDCG@10 {best:.4f})"
    st.success(
        f"**Run {run_id}** was trained with the best settings{found} and tested once: "
        f"test NDCG@10 **{shown}**. {md_escape(tuned_text(tuning))}. Compare it with the "
        "other runs of this split on the Compare page."
    )


def studies_active() -> bool:
    """Whether a study job of this server is queued or running."""
    return any(j.status in ("queued", "running") for j in get_runner().study_jobs())


def studies_monitor(split_id: int) -> None:
    """The study jobs of this split, newest first (the 5 latest)."""
    jobs = [j for j in get_runner().study_jobs() if j.split_id == split_id]
    if not jobs:
        return
    for job in sorted(jobs, key=lambda j: -j.job_id)[:5]:
        try:
            study_card(job)
        except RecsysError as exc:
            st.error(md_escape(exc))
