"""The run monitor: one card per run with status, the whole run's ETA, the training curve,
cancel, and the final metrics or error (Train page; the Models page reuses the curve)."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys_engine.compare.names import metric_label
from recsys_engine.errors import RecsysError
from recsys_engine.models import get_model, model_title
from recsys_engine.run_eta import run_eta, typical_eval_seconds
from ui.resources import get_runner, get_store
from ui.text import md_escape, short_seconds
from ui.tune import tuned_text

ACTIVE = ("queued", "running")
STATUS_ICON = {
    "queued": "⏳",
    "running": "🔄",
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "🚫",
    "interrupted": "⚠️",
}


def validation_label(model: str | None) -> str:
    """What the training curve's validation line measures, for people: ``"validation
    RMSE"`` for rating models, ``"validation NDCG@10"`` for the others.

    Why from the model class: the progress rows keep the value, not its name; the Keras
    models report ``val_rmse`` exactly when they predict ratings (``predicts_ratings``)
    and ``val_ndcg@10`` otherwise. An unknown model gets the plain ``"validation score"``.
    """
    if not model:
        return "validation score"
    try:
        ratings = bool(get_model(str(model)).cls.predicts_ratings)
    except RecsysError:
        return "validation score"
    return "validation RMSE" if ratings else f"validation {metric_label('ndcg@10')}"


def loss_figure(progress: pd.DataFrame, model: str | None = None) -> go.Figure | None:
    """Loss and validation metric per epoch, when the model reports them; ``model`` (the
    run's registry name) names the validation metric on its line and axis."""
    if progress.empty or progress["loss"].isna().all():
        return None
    per_epoch = progress.dropna(subset=["loss"]).groupby("epoch", as_index=False).last()
    label = validation_label(model)
    fig = go.Figure()
    fig.add_scatter(
        x=per_epoch["epoch"], y=per_epoch["loss"], name="training loss", mode="lines+markers"
    )
    if not per_epoch["val_metric"].isna().all():
        fig.add_scatter(
            x=per_epoch["epoch"],
            y=per_epoch["val_metric"],
            name=label,
            mode="lines+markers",
            yaxis="y2",
        )
    fig.update_layout(
        template="plotly_white",
        height=260,
        margin=dict(l=10, r=10, t=30, b=10),
        title="Training curve",
        xaxis_title="epoch",
        yaxis=dict(title="loss"),
        # four decimals on every tick ("0.0183, 0.0192", not "0.0183, 0.01923")
        yaxis2=dict(
            title=label, overlaying="y", side="right", showgrid=False, tickformat=".4f"
        ),
        # above the plot: at the right it covered the validation axis's tick labels
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
    )
    return fig


def run_card(run: pd.Series, runs: pd.DataFrame | None = None) -> None:
    """One run: status, progress with the whole run's ETA (fit + evaluation; the
    evaluation still to come is estimated from earlier runs on the split in ``runs``),
    curve, cancel button, final metrics or error."""
    store = get_store()
    rid = int(run["id"])
    status = run["status"]
    with st.container(border=True):
        head, btn = st.columns([5, 1])
        name = model_title(run["model"])
        head.markdown(f"{STATUS_ICON.get(status, '')} **Run {rid} · {name}** — {status}")
        if isinstance(run.get("tuning"), str):  # trained from a study's best trial
            st.caption("🎯 " + tuned_text(json.loads(run["tuning"])))
        if status in ACTIVE:
            if btn.button("Cancel", key=f"cancel_{rid}"):
                get_runner().cancel(rid)
                st.toast(f"Cancelling run {rid}…")
            progress = store.run_progress(rid)
            eval_seconds = typical_eval_seconds(runs, int(run["split_id"]), str(run["model"]))
            eta = run_eta(progress, eval_seconds)
            st.progress(eta.fraction, text=eta.text)
            fig = loss_figure(progress, str(run["model"]))
            if fig is not None:
                st.plotly_chart(fig, width="stretch", key=f"curve_{rid}")
        elif status == "succeeded":
            from recsys_engine.runs import run_metric_dict

            m = run_metric_dict(store, rid)
            keys = [
                k
                for k in ("ndcg@10", "recall@10", "precision@10", "coverage@10", "rmse")
                if m.get(k) is not None
            ]
            c = st.columns(len(keys) + 1)
            for col, k in zip(c, keys, strict=False):
                col.metric(metric_label(k) if "@" in k else k.upper(), f"{m[k]:.4f}")
            c[-1].metric("Fit time", short_seconds(run["fit_seconds"]))
            # the curve stays after the run ends
            fig = loss_figure(store.run_progress(rid), str(run["model"]))
            if fig is not None:
                st.plotly_chart(fig, width="stretch", key=f"curve_{rid}")
        elif status == "cancelled":
            st.info("Cancelled: nothing was saved for this run.")
        elif run["error"] and not pd.isna(run["error"]):
            st.error(md_escape(str(run["error"]).splitlines()[0][:500]))


def runs_monitor(dataset_id: int, split_id: int | None) -> None:
    """Runs of the active dataset, newest first, active ones with live progress."""
    runs = get_store().list_runs(dataset_id)
    if split_id is not None:
        runs = runs[runs["split_id"] == split_id]
    if runs.empty:
        st.caption("No runs on this split yet.")
        return
    active = runs[runs["status"].isin(ACTIVE)]
    if finished_since_last_look(split_id, active["id"].astype(int).tolist()):
        # the rest of the page (each model's "took … last time", the split's runs) was
        # drawn before this run ended: draw it again, not just this fragment
        st.rerun()
    recent = runs[~runs["status"].isin(ACTIVE)].head(8)
    counts = runs["status"].value_counts()
    parts = ", ".join(f"{int(n)} {status}" for status, n in counts.items())
    shown = "" if len(active) + len(recent) == len(runs) else " (the 8 latest finished shown)"
    st.caption(f"{len(runs)} run{'s' if len(runs) != 1 else ''} on this split: {parts}{shown}.")
    for _, run in pd.concat([active, recent]).iterrows():
        run_card(run, runs)


def finished_since_last_look(split_id: int | None, active_ids: list[int]) -> bool:
    """Whether a run that was queued or running at this session's last look at the
    split's runs has ended since (the ids active now are remembered for the next look)."""
    key = f"_monitor_active_{split_id}"
    before = set(st.session_state.get(key, ()))
    st.session_state[key] = sorted(active_ids)
    return bool(before - set(active_ids))


def config_json(config: str | dict) -> str:
    """Pretty JSON of a stored config."""
    data = json.loads(config) if isinstance(config, str) else config
    return json.dumps(data, indent=2, sort_keys=True)
