"""Models page widgets: run filters and table, details, downloads, re-run, delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_engine import export
from recsys_engine.compare import names
from recsys_engine.errors import RecsysError
from recsys_engine.models import model_title
from recsys_engine.runs import delete_run, run_metric_dict
from ui import state
from ui.resources import get_runner, get_store
from ui.run_monitor import STATUS_ICON, config_json, loss_figure
from ui.text import md_escape, seconds_figure


def filtered_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Filter widgets (model, split, status) and sort order applied to the runs."""
    c1, c2, c3, c4 = st.columns(4)
    models = c1.multiselect("Model", sorted(runs["model"].unique()), format_func=model_title)
    splits = c2.multiselect("Split", sorted(runs["split"].dropna().unique()))
    statuses = c3.multiselect("Status", sorted(runs["status"].unique()))
    order = c4.selectbox("Sort by", ["newest", "NDCG@10 (best first)", "fit time"])
    out = runs
    if models:
        out = out[out["model"].isin(models)]
    if splits:
        out = out[out["split"].isin(splits)]
    if statuses:
        out = out[out["status"].isin(statuses)]
    if order.startswith("NDCG"):
        out = out.sort_values("ndcg_10", ascending=False, na_position="last")
    elif order == "fit time":
        out = out.sort_values("fit_seconds", na_position="last")
    return out


#: What an empty cell shows: a run still training (or failed) has no NDCG or fit time yet.
NOT_YET = "—"
#: Where the Models page shows the confirmation of a deleted run (``state.flash``).
DONE_PLACE = "models"


def runs_table(runs: pd.DataFrame, with_dataset: bool = False) -> pd.DataFrame:
    """The columns a reader needs, with readable names; a dash, never "None", where a run
    has no value yet (running, failed). ``with_dataset`` adds the dataset's name, for
    lists that mix datasets (Home)."""
    cols = ["id", "model", "split", "status", "ndcg_10", "fit_seconds", "created_at"]
    if with_dataset:
        cols.insert(1, "dataset")
    table = runs[cols].copy()
    table["model"] = table["model"].map(model_title)
    table["split"] = table["split"].map(lambda v: NOT_YET if pd.isna(v) else str(v))
    table["ndcg_10"] = table["ndcg_10"].map(lambda v: NOT_YET if pd.isna(v) else f"{v:.4f}")
    table["fit_seconds"] = table["fit_seconds"].map(
        lambda v: NOT_YET if pd.isna(v) else seconds_figure(v)
    )
    return table.rename(
        columns={"ndcg_10": "NDCG@10", "fit_seconds": "fit s", "created_at": "created"}
    )


def run_labels(runs: pd.DataFrame) -> dict[int, str]:
    """Run id → "Run 7 · EASE · split name · succeeded" for every row of ``runs`` (one pass
    over the columns, not a row lookup per option and render)."""
    cols = (runs["id"], runs["model"], runs["split"], runs["status"])
    return {
        int(i): f"Run {int(i)} · {model_title(m)} · {'–' if pd.isna(s) else s} · {st_}"
        for i, m, s, st_ in zip(*cols, strict=True)
    }


def metrics_table(metrics: dict[str, float | None]) -> pd.DataFrame:
    """Metrics as one row per metric (readable names) and one column per cut-off K."""
    rows: dict[str, dict[str, float | None]] = {}
    for key, value in metrics.items():
        name, _, k = key.partition("@")
        label = names.LABELS.get(name, name.upper())
        rows.setdefault(label, {})[f"@{k}" if k else "overall"] = value
    known = (*names.ACCURACY, *names.BEYOND, *names.SHELF)
    order = [names.LABELS[m] for m in known if m in names.LABELS]
    labels = sorted(rows, key=lambda x: (order.index(x) if x in order else len(order), x))
    table = pd.DataFrame.from_dict({lbl: rows[lbl] for lbl in labels}, orient="index")
    cols = sorted(
        table.columns, key=lambda c: (c == "overall", int(c[1:]) if c != "overall" else 0)
    )
    # 4 decimals as Python prints them everywhere else (the run card, the A/B tiles):
    # ``round(4)`` rounds 0.25875 half-up from 2587.5 and read 0.2588 next to their 0.2587
    return table[cols].map(lambda v: float(f"{v:.4f}") if pd.notna(v) else v)


def run_details(run_id: int) -> None:
    """Config, progress, metrics, artefacts, downloads, re-run and delete of one run."""
    store = get_store()
    run = store.get_run(run_id)
    icon = STATUS_ICON.get(run["status"], "")
    st.markdown(f"#### {icon} Run {run_id} · {model_title(run['model'])}")
    if run["error"]:
        st.error(md_escape(str(run["error"])[:1000]))
    metrics = run_metric_dict(store, run_id)
    left, right = st.columns(2)
    with left:
        st.markdown("**Configuration**")
        st.code(config_json(run["config"]), language="json")
        st.markdown("**Repeat from the command line**")
        st.code(export.cli_command(run, store.path), language="bash", wrap_lines=True)
        st.caption(f"Model files: `{run['artefact_path'] or 'none'}`")
    with right:
        if metrics:
            st.markdown("**Metrics**")
            table = metrics_table(metrics)
            four = st.column_config.NumberColumn(format="%.4f")  # "0.4870", not "0.487"
            st.dataframe(
                table,
                width="stretch",
                column_config={c: four for c in table.columns},
                placeholder="–",
            )
        fig = loss_figure(store.run_progress(run_id), str(run["model"]))
        if fig is not None:
            st.plotly_chart(fig, width="stretch")
    if run["status"] == "succeeded":
        recs = export.recommendations_with_titles(
            store.recommendations_frame(run_id), store.items_frame(run["dataset_id"])
        )
        c1, c2, c3 = st.columns(3)
        c1.download_button(
            "Recommendations (CSV)",
            export.to_csv_bytes(recs),
            f"run_{run_id}_recommendations.csv",
            "text/csv",
        )
        c2.download_button(
            "Recommendations (Parquet)",
            export.to_parquet_bytes(recs),
            f"run_{run_id}_recommendations.parquet",
            "application/octet-stream",
        )
        if run["artefact_path"]:
            c3.download_button(
                "Model (zip)",
                export.model_zip(run["artefact_path"], run),
                f"run_{run_id}_model.zip",
                "application/zip",
            )
    c1, c2 = st.columns(2)
    if c1.button("Re-run with the same config", key=f"rerun_{run_id}"):
        from recsys_engine.runs import queue_run

        new_id = queue_run(store, run["split_id"], run["model"], export.stored_config(run))
        get_runner().submit(new_id)
        st.success(f"Queued run {new_id}; follow it on the Train page.")
    if run["status"] in ("queued", "running"):
        if c2.button("Cancel run", key=f"cancel_reg_{run_id}"):
            get_runner().cancel(run_id)
            st.toast(f"Cancelling run {run_id}…")
        return
    sure = c2.checkbox("Delete this run, its results and model files", key=f"sure_{run_id}")
    if c2.button("Delete run", key=f"delete_{run_id}", disabled=not sure, type="primary"):
        try:
            delete_run(store, run_id)
        except RecsysError as exc:  # it started meanwhile (another tab re-ran it)
            st.error(md_escape(exc))
        else:
            state.flash(
                DONE_PLACE,
                f"Deleted run {run_id} ({model_title(run['model'])}) with its results "
                "and model files.",
            )
            st.rerun()
