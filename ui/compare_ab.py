"""Compare page, A/B panel: the result of a request, top-down: the decision in plain words,
why (verdict and headline numbers), details (tables), charts and downloads (the request's
form is ``ui.compare_ab_form``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from recsys_engine.compare import (
    CompareOptions,
    Comparison,
    charts,
    compare_runs,
    names,
    segment_caveats,
    tables,
)
from recsys_engine.compare.report import html_report, per_user_csv
from recsys_engine.errors import RecsysError
from ui import state
from ui.compare import cache_version
from ui.resources import get_store
from ui.text import md_escape

VERDICT_BOX = {
    "Better": (st.success, "green", "📈"),
    "Worse": (st.error, "red", "📉"),
    "Neutral": (st.info, "blue", "➖"),
    "Inconclusive": (st.warning, "orange", "❔"),
}


@st.cache_data(ttl=300, max_entries=16, show_spinner="Comparing the two runs user by user…")
def _comparison(run_a: int, run_b: int, options: CompareOptions, version: tuple):
    result = compare_runs(get_store(), run_a, run_b, options)
    return result, html_report(result), per_user_csv(result)


DECISION_BOX = {
    "switch": (st.success, "✅"),
    "keep": (st.info, "🛡️"),
    "no_difference": (st.info, "🟰"),
    "trade_off": (st.warning, "⚖️"),
}


def decision_block(result: Comparison) -> None:
    """What to do, in plain words, then the reasons and what the test set can detect."""
    d = result.decision
    box, icon = DECISION_BOX[d.kind]
    reasons = "\n".join(f"- {md_escape(r)}" for r in d.reasons)
    box(f"### {md_escape(d.headline)}\n{reasons}", icon=icon)
    st.caption(md_escape(d.detectable))
    # the run the decision says to use, one click from its explanations (Explain would
    # otherwise open on the run explained last, or the newest)
    chosen = {"switch": result.run_b, "keep": result.run_a}.get(d.kind)
    if chosen is not None and st.button(
        f"See why {chosen['label']} recommends what it does",
        icon="🔍",
        key="ab_explain",
        help="Opens the Explain page on this run.",
    ):
        st.session_state[state.EXPLAIN_RUN] = int(chosen["id"])
        st.switch_page("pages/explain.py")


def _why(result: Comparison, threshold: float) -> None:
    """The statistical verdict, the headline numbers and who does not follow it."""
    _, colour, icon = VERDICT_BOX[result.verdict]
    st.markdown("**Why: the numbers behind the decision**")
    st.badge(f"Statistical verdict: {result.verdict}", color=colour, icon=icon)
    st.markdown(md_escape(result.sentence))
    for note in result.notes:
        st.caption(note)
    lead = {"Better": "Not everyone gains", "Worse": "Not everyone loses"}.get(result.verdict)
    for caveat in segment_caveats(result, threshold):
        st.warning(f"{lead} — {caveat}", icon="👥")
    p = result.primary
    plain = names.PLAIN.get(names.parse_metric(p.metric)[0], p.label)
    reliable = p.ci_low > 0 or p.ci_high < 0
    c = st.columns(4)
    c[0].metric(f"{plain} · A", f"{p.mean_a:.4f}", help=f"{p.label}: {names.meaning(p.metric)}")
    c[1].metric(
        f"{plain} · B",
        f"{p.mean_b:.4f}",
        f"{p.rel_change * 100:+.1f}%" + ("" if reliable else " (could be no change)"),
        delta_color="normal" if reliable else "off",
        delta_arrow="auto" if reliable else "off",
        help="The arrow and colour appear only when the 95% confidence range excludes zero.",
    )
    c[2].metric("Users: B better / same / A better", f"{p.wins:,} / {p.ties:,} / {p.losses:,}")
    c[3].metric(
        "Smallest detectable change",
        "–" if not np.isfinite(p.mde_rel) or p.all_tied else f"{p.mde_rel * 100:.1f}%",
        help="With this many test users, smaller changes cannot be told apart from noise "
        "(80% power, 2.8 × sd / √n).",
    )


def ab_result(done: pd.DataFrame, req: dict) -> None:
    """One request, top-down: decision → why → details (tables) → charts → downloads;
    ``done`` are the split's succeeded runs (their ids and evaluations key the cache)."""
    options = CompareOptions(
        primary=req["primary"],
        secondary=req["secondary"],
        test=req["test"],
        threshold=req["threshold"],
        guardrail_margin=req["margin"],
        n_resamples=req["resamples"],
        seed=req["seed"],
    )
    try:
        version = cache_version(done)
        result, html_doc, csv = _comparison(req["a"], req["b"], options, version)
    except RecsysError as exc:
        st.error(md_escape(exc), icon="⛔")
        return
    st.markdown(
        f"**Decision for B = {md_escape(result.run_b['label'])} against "
        f"A = {md_escape(result.run_a['label'])}**"
    )
    decision_block(result)
    if result.fairness:  # unequal tuning budgets: said next to the decision, in plain words
        st.warning(md_escape(result.fairness), icon="⚖️")
    _why(result, req["threshold"])
    pct = st.column_config.NumberColumn(format="%+.1f%%")
    with st.expander("Details: every metric", expanded=False):
        table = tables.metrics_frame(result)
        for col in ("Relative change", "95% CI low", "95% CI high", "Detectable change"):
            table[col] = table[col] * 100
        for col in ("p-value", "p (Holm)"):
            table[col] = [tables.fmt(v, "p") for v in table[col]]
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "Metric": st.column_config.TextColumn(pinned=True),
                "A": st.column_config.NumberColumn(format="%.4f"),
                "B": st.column_config.NumberColumn(format="%.4f"),
                "Change": st.column_config.NumberColumn(format="%+.4f"),
                "Relative change": pct,
                "95% CI low": pct,
                "95% CI high": pct,
                "Detectable change": st.column_config.NumberColumn(format="%.1f%%"),
                "Effect size (dz)": st.column_config.NumberColumn(format="%.2f"),
            },
        )
    guards = tables.guardrails_frame(result)
    with st.expander("Details: guardrails", expanded=False):
        guards["Relative change"] = guards["Relative change"] * 100
        st.dataframe(
            guards,
            hide_index=True,
            width="stretch",
            column_config={  # 4 decimals as everywhere else (unformatted, 0.25875 read 0.2588)
                "A": st.column_config.NumberColumn(format="%.4f"),
                "B": st.column_config.NumberColumn(format="%.4f"),
                "Relative change": pct,
            },
        )
        st.caption(
            f"A guardrail must not fall by more than {options.guardrail_margin:.0%} (relative)."
        )
    seg = tables.segments_frame(result)
    if not seg.empty:
        with st.expander("Details: by user segment", expanded=False):
            seg["p (BH)"] = [tables.fmt(v, "p") for v in seg["p (BH)"]]
            for col in ("Relative change", "95% CI low", "95% CI high"):
                seg[col] = seg[col] * 100
            st.dataframe(
                seg,
                hide_index=True,
                width="stretch",
                column_config={
                    "Segment": st.column_config.TextColumn(pinned=True),
                    "Relative change": pct,
                    "95% CI low": pct,
                    "95% CI high": pct,
                    "A": st.column_config.NumberColumn(format="%.4f"),
                    "B": st.column_config.NumberColumn(format="%.4f"),
                    "Change": st.column_config.NumberColumn(format="%+.4f"),
                },
                placeholder="–",
            )
            st.caption(
                "Light / medium / heavy users: thirds of the test users by training activity. "
                f"Mostly popular items: at least half of a user's held-out items are among the "
                f"{options.head_fraction:.0%} most popular items. New users: at most "
                f"{options.cold_max} training interactions. p-values are adjusted "
                "(Benjamini–Hochberg) because several segments are tested."
                + (
                    " A dash: A scores 0 in that segment, so there is no base for a relative "
                    "change; Change gives B − A."
                    if seg["Relative change"].isna().any()
                    else ""
                )
            )
    st.markdown("**Charts**")
    left, right = st.columns(2)
    left.plotly_chart(charts.metric_forest(result), width="stretch", key="fig_forest")
    right.plotly_chart(charts.difference_histogram(result), width="stretch", key="fig_hist")
    left.plotly_chart(charts.segment_forest(result), width="stretch", key="fig_segments")
    right.plotly_chart(charts.overlap_histogram(result), width="stretch", key="fig_overlap")
    st.caption(
        "Dots are the change of B against A, bars its 95% confidence range: green = "
        "reliably up, red = reliably down, grey = could be no change. The shaded band is "
        f"the ±{options.threshold:.0%} too small to matter."
    )
    d1, d2 = st.columns(2)
    d1.download_button(
        "Download the report (HTML)",
        html_doc.encode("utf-8"),
        file_name=f"compare_run{req['a']}_vs_run{req['b']}.html",
        mime="text/html",
        icon="📄",
        key="dl_report",
    )
    d2.download_button(
        "Download per-user differences (CSV)",
        csv,
        file_name=f"compare_run{req['a']}_vs_run{req['b']}_users.csv",
        mime="text/csv",
        icon="📊",
        key="dl_csv",
    )
