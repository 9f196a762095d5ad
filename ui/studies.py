"""Study browser of the Train page: past tuning studies of a dataset, their trials,
parameter importance (or why it is not shown) and the metric against each setting."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_engine.errors import RecsysError
from recsys_engine.jobs import StudyJob
from recsys_engine.tuning.charts import best_so_far_figure, importance_figure, slice_figure
from recsys_engine.tuning.study import duration_text
from recsys_engine.tuning.trials import VALUE_COLUMN, load_study, study_trials, trials_table
from ui.resources import get_store
from ui.text import md_escape
from ui.tune import budget_text, tuned_run_note


def outcome_facts(summary: dict) -> list[str]:
    """How a finished study went, for its summary line: ``["6 complete", "took 1 second"]``.

    Pruned and failed counts are named only when there are any ("0 pruned, 0 failed" is
    noise to a reader), and the time reads in seconds under a minute (not "0.0 min").
    """
    counts = [f"{int(summary.get('complete') or 0)} complete"]
    counts += [f"{int(summary[key])} {key}" for key in ("pruned", "failed") if summary.get(key)]
    facts = [", ".join(counts)]
    if summary.get("minutes") is not None:
        facts.append(f"took {duration_text(float(summary['minutes']))}")
    return facts


def study_browser(dataset_id: int) -> None:
    """Past studies of the dataset: pick one, see its trials, importance and slice plots."""
    from recsys_engine.tuning.trials import study_label

    store = get_store()
    studies = store.list_studies()
    studies = studies[studies["dataset_id"] == dataset_id]
    if studies.empty:
        st.caption("No tuning study on this dataset yet.")
        return
    records = {int(r["id"]): r for _, r in studies.iterrows()}
    sid = st.selectbox(
        "Study",
        list(records),
        format_func=lambda i: study_label(records[i]),
        key=f"browse_study_{dataset_id}",
    )
    row = store.get_study(sid)
    budget = row["budget"] or {}
    summary = row["summary"] or {}
    facts = [
        f"split “{store.get_split(int(row['split_id']))['name']}”",
        f"budget {budget_text(StudyJob(0, '', budget.get('trials'), budget.get('minutes')))}",
        f"searched: {', '.join(row['space']) or 'nothing'}",
    ]
    if row["fixed"]:
        facts.append("fixed: " + ", ".join(f"{k} = {v}" for k, v in row["fixed"].items()))
    if summary:
        facts.extend(outcome_facts(summary))
    st.caption(md_escape(" · ".join(facts)))
    if row["best_run_id"] is not None and not pd.isna(row["best_run_id"]):
        tuned_run_note(int(row["best_run_id"]))
    elif row["status"] == "cancelled":
        st.info("This study was cancelled before its budget was spent: nothing was trained.")
    elif row["status"] == "running":
        st.info("This study is still running; its trials so far are below.")
    elif row["error"]:
        said = {"interrupted": "was interrupted"}.get(str(row["status"]), str(row["status"]))
        st.info(md_escape(f"This study {said}: {row['error']}"))
    try:
        study = load_study(store, sid)
    except RecsysError as exc:
        st.info(md_escape(exc))
        return
    table = trials_table(study_trials(store, sid))
    if table.empty:
        st.caption("No trial yet.")
        return
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            VALUE_COLUMN: st.column_config.NumberColumn(format="%.4f"),
            "Best so far": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    left, right = st.columns(2)
    if table["Best so far"].notna().any():
        left.plotly_chart(best_so_far_figure(table), width="stretch", key="browse_best")
    else:
        left.caption("No trial of this study completed, so there is no best score to chart.")
    fig, note = importance_figure(study)
    with right:
        st.markdown("**Which settings mattered**")
        if fig is not None:
            st.plotly_chart(fig, width="stretch", key="browse_importance")
        st.caption(note)
    sl = slice_figure(study)
    if sl is not None:
        st.markdown("**Validation NDCG@10 against each setting**")
        st.plotly_chart(sl, width="stretch", key="browse_slice")
        st.caption(
            "One dot per completed trial; darker dots are later trials. Where the high dots "
            "bunch up is where that setting works best on this data."
        )
