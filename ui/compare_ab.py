"""Compare page, A/B panel: baseline and candidate pickers, options, the verdict and its
tables, charts, segments and downloads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from recsys_engine.compare import (
    TEST_LABELS,
    TESTS,
    CompareOptions,
    charts,
    compare_runs,
    names,
    segment_caveats,
    tables,
)
from recsys_engine.compare.report import html_report, per_user_csv
from recsys_engine.errors import RecsysError
from recsys_engine.models import model_title
from ui.compare import cache_version, succeeded_runs
from ui.resources import get_store
from ui.text import md_escape

REQUEST = "compare_request"  # the last submitted A/B request (ids and options only)
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


def ab_form(board: pd.DataFrame, k: int) -> dict | None:
    """Baseline/candidate pickers and options; returns the submitted request."""
    ids = [int(i) for i in board["run_id"]]
    labels = {int(r.run_id): f"{model_title(r.model)} (run {r.run_id})" for r in board.itertuples()}
    pop = [int(r) for r in board.loc[board["model"] == "popularity", "run_id"]]
    base = pop[0] if pop else ids[-1]
    cand = next(i for i in ids if i != base) if len(ids) > 1 else base
    accuracy = [m for m in names.ACCURACY if m in board]
    with st.form("ab_form"):
        c1, c2 = st.columns(2)
        a = c1.selectbox(
            "Baseline A (what you have today)",
            ids,
            index=ids.index(base),
            format_func=labels.get,
            key="ab_a",
        )
        b = c2.selectbox(
            "Candidate B (what you might switch to)",
            ids,
            index=ids.index(cand),
            format_func=labels.get,
            key="ab_b",
        )
        c1, c2 = st.columns(2)
        primary = c1.selectbox(
            "Decision metric",
            accuracy,
            index=accuracy.index("ndcg") if "ndcg" in accuracy else 0,
            format_func=lambda m: names.metric_label(f"{m}@{k}"),
            key="ab_primary",
            help="The one metric the verdict is based on. Decide it before looking at results.",
        )
        secondary = c2.multiselect(
            "Also check",
            accuracy,
            default=[m for m in ("recall", "hitrate", "mrr") if m in accuracy],
            format_func=lambda m: names.metric_label(f"{m}@{k}"),
            key="ab_secondary",
            help="Supporting metrics; their p-values are Holm-adjusted for testing several.",
        )
        with st.expander("Options"):
            o1, o2, o3 = st.columns(3)
            test = o1.radio(
                "Significance test",
                list(TESTS),
                format_func=TEST_LABELS.get,
                key="ab_test",
                help="The t-test is the standard; the permutation and Wilcoxon tests make "
                "fewer assumptions about the shape of the per-user differences.",
            )
            threshold = o2.number_input(
                "Smallest change that matters (%)",
                0.0,
                50.0,
                1.0,
                0.5,
                key="ab_threshold",
                help="B is only called better when it improves the decision metric by at "
                "least this much (relative).",
            )
            margin = o3.number_input(
                "Largest tolerated guardrail drop (%)",
                0.0,
                100.0,
                10.0,
                1.0,
                key="ab_margin",
                help="Coverage and novelty must not fall by more than this (relative).",
            )
            resamples = o1.select_slider(
                "Bootstrap resamples",
                [1_000, 2_000, 5_000, 10_000, 20_000],
                value=10_000,
                key="ab_resamples",
            )
            seed = o2.number_input("Random seed", 0, 2**31 - 1, 0, key="ab_seed")
        submitted = st.form_submit_button("Compare A and B", type="primary")
    if submitted:
        st.session_state[REQUEST] = {
            "a": int(a),
            "b": int(b),
            "primary": f"{primary}@{k}",
            "secondary": tuple(f"{m}@{k}" for m in secondary if m != primary),
            "test": test,
            "threshold": float(threshold) / 100,
            "margin": float(margin) / 100,
            "resamples": int(resamples),
            "seed": int(seed),
        }
    req = st.session_state.get(REQUEST)
    if req and req["a"] in ids and req["b"] in ids and req["primary"].endswith(f"@{k}"):
        return req
    return None


def ab_result(split_id: int, req: dict) -> None:
    """Verdict, metric table, guardrails, charts, segments and downloads of one request."""
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
        version = cache_version(succeeded_runs(split_id))
        result, html_doc, csv = _comparison(req["a"], req["b"], options, version)
    except RecsysError as exc:
        st.error(md_escape(exc), icon="⛔")
        return
    box, colour, icon = VERDICT_BOX[result.verdict]
    st.badge(result.verdict, color=colour, icon=icon)
    box(f"#### {result.sentence}", icon=icon)
    for note in result.notes:
        st.caption(note)
    for caveat in segment_caveats(result, req["threshold"]):
        st.warning(f"Not everyone gains — {caveat}", icon="👥")
    p = result.primary
    c = st.columns(4)
    c[0].metric(f"{p.label} · A", f"{p.mean_a:.4f}")
    c[1].metric(f"{p.label} · B", f"{p.mean_b:.4f}", f"{p.rel_change * 100:+.1f}%")
    c[2].metric("Users: B better / same / A better", f"{p.wins:,} / {p.ties:,} / {p.losses:,}")
    c[3].metric(
        "Smallest detectable change",
        "–" if not np.isfinite(p.mde_rel) else f"{p.mde_rel * 100:.1f}%",
        help="With this many users, changes smaller than this are easily missed "
        "(80% power, 2.8 × sd / √n).",
    )
    table = tables.metrics_frame(result)
    for col in ("Relative change", "95% CI low", "95% CI high", "Detectable change"):
        table[col] = table[col] * 100
    for col in ("p-value", "p (Holm)"):
        table[col] = [tables.fmt(v, "p") for v in table[col]]
    pct = st.column_config.NumberColumn(format="%+.1f%%")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
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
    for g in result.guardrails:
        if g.status == "breached":
            st.warning(
                f"Guardrail: {g.label} falls {abs(g.rel_change):.0%}, more than the "
                f"{options.guardrail_margin:.0%} allowed.",
                icon="🛡️",
            )
    with st.expander("Guardrails", expanded=any(g.status != "ok" for g in result.guardrails)):
        guards["Relative change"] = guards["Relative change"] * 100
        st.dataframe(
            guards, hide_index=True, width="stretch", column_config={"Relative change": pct}
        )
    left, right = st.columns(2)
    left.plotly_chart(charts.metric_forest(result), width="stretch", key="fig_forest")
    right.plotly_chart(charts.difference_histogram(result), width="stretch", key="fig_hist")
    left.plotly_chart(charts.segment_forest(result), width="stretch", key="fig_segments")
    right.plotly_chart(charts.overlap_histogram(result), width="stretch", key="fig_overlap")
    st.caption(
        "Dots are the change of B against A, bars its 95% confidence interval: green = "
        "reliably up, red = reliably down, grey = could be no change. The shaded band is "
        f"the ±{options.threshold:.0%} too small to matter."
    )
    seg = tables.segments_frame(result)
    if not seg.empty:
        seg["p (BH)"] = [tables.fmt(v, "p") for v in seg["p (BH)"]]
        for col in ("Relative change", "95% CI low", "95% CI high"):
            seg[col] = seg[col] * 100
        st.markdown("**By user segment**")
        st.dataframe(
            seg,
            hide_index=True,
            width="stretch",
            column_config={
                "Relative change": pct,
                "95% CI low": pct,
                "95% CI high": pct,
                "A": st.column_config.NumberColumn(format="%.4f"),
                "B": st.column_config.NumberColumn(format="%.4f"),
            },
        )
        st.caption(
            "Light / medium / heavy users: thirds of the test users by training activity. "
            f"Mostly popular items: at least half of a user's held-out items are among the "
            f"{options.head_fraction:.0%} most popular items. New users: at most "
            f"{options.cold_max} training interactions. p-values are adjusted "
            "(Benjamini–Hochberg) because several segments are tested."
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
    with st.expander("How to read this"):
        st.markdown(
            "- **Relative change**: how much B moves the average metric, in % of A.\n"
            "- **95% CI**: the range the true change lies in, from resampling the test "
            "users. If it is entirely above 0, the gain is not luck.\n"
            "- **p-value**: the chance of a difference at least this large if the two "
            "models were really equal; below 0.05 counts as significant.\n"
            "- **Verdict**: *Better* needs the interval above 0 **and** a change of at "
            f"least {options.threshold:.1%}; *Neutral* means the interval rules out any change "
            "that matters; *Inconclusive* means more users (or a bigger difference) are needed."
        )
