"""Compare page widgets: split and K pickers, leaderboard, curves, the A/B panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from recsys_engine import ab_test as ab
from recsys_engine import compare as cmp
from recsys_engine import compare_charts as charts
from recsys_engine import leaderboard as lb
from recsys_engine import metric_names as names
from recsys_engine import paired_stats, report
from recsys_engine.errors import RecsysError
from recsys_engine.models import model_title
from ui.resources import get_store
from ui.text import md_escape

REQUEST = "compare_request"  # the last submitted A/B request (ids and options only)
VERDICT_BOX = {
    "Better": (st.success, "green", ":material/trending_up:"),
    "Worse": (st.error, "red", ":material/trending_down:"),
    "Neutral": (st.info, "blue", ":material/drag_handle:"),
    "Inconclusive": (st.warning, "orange", ":material/help:"),
}
FAMILY_LABEL = {
    "reference": "Reference",
    "collaborative": "Collaborative",
    "content": "Content",
    "hybrid": "Hybrid",
}
HELP = {
    "ndcg": "Ranking quality: relevant items near the top of the list score more (0–1).",
    "recall": "Share of each user's held-out items found in the list.",
    "precision": "Share of the list that the user actually interacted with.",
    "hitrate": "Share of users with at least one relevant item in the list.",
    "map": "Mean average precision: rewards relevant items early in the list.",
    "mrr": "How high the first relevant item is (1 = always first).",
    "coverage": "Share of the catalogue recommended to at least one user.",
    "novelty": "How unfamiliar the recommended items are (higher = less mainstream).",
    "arp": "Average popularity of recommended items (lower = more niche).",
    "ild": "How different the items within one list are (content-based).",
    "personalization": "How different the lists of different users are.",
}


# -- cached computations (inputs are ids and options, never frames) -----------------------
@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _leaderboard(split_id: int, k: int, primary: str, version: tuple) -> pd.DataFrame:
    return lb.leaderboard(get_store(), split_id, k, primary)


@st.cache_data(ttl=300, max_entries=16, show_spinner="Computing metric@K curves…")
def _curves(run_ids: tuple[int, ...], version: tuple):
    return lb.metric_curves(get_store(), list(run_ids))


@st.cache_data(ttl=300, max_entries=16, show_spinner="Comparing the two runs user by user…")
def _comparison(run_a: int, run_b: int, options: ab.CompareOptions, version: tuple):
    result = cmp.compare_runs(get_store(), run_a, run_b, options)
    return result, report.html_report(result), report.per_user_csv(result)


def _runs(split_id: int) -> pd.DataFrame:
    runs = get_store().list_runs()
    return runs[(runs["split_id"] == split_id) & (runs["status"] == "succeeded")]


def _version(runs: pd.DataFrame) -> tuple:
    """Changes when a run is added, deleted or re-evaluated (cache key)."""
    return tuple((int(r.id), str(r.eval_seconds)) for r in runs.itertuples())


# -- pickers ------------------------------------------------------------------------------
def split_picker(dataset_id: int) -> int | None:
    """Split select box (default: the split with the most finished runs), or guidance."""
    store = get_store()
    splits = store.list_splits(dataset_id)
    runs = store.list_runs(dataset_id)
    done = runs[runs["status"] == "succeeded"].groupby("split_id").size()
    counts = {int(s): int(done.get(s, 0)) for s in splits["id"]}
    if not counts or max(counts.values()) < 2:
        st.info(
            "**Nothing to compare yet.** A comparison needs at least two finished models "
            "trained on the *same* split, so both are tested on the same users and "
            "held-out items.\n\n"
            "1. Open the Train page and create a split (or reuse one).\n"
            "2. Train a baseline such as **popularity** and at least one other model "
            "(e.g. **ease** or **itemknn**; the button *Train all reference models* does all "
            "three).\n"
            "3. Come back here when the runs show *succeeded*.",
            icon=":material/info:",
        )
        from ui.widgets import page_link

        page_link("pages/train.py", "Go to Train", icon=":material/model_training:")
        return None
    names = {int(r.id): str(r.name) for r in splits.itertuples()}
    ids = sorted(counts, key=lambda s: (-counts[s], -s))
    return st.selectbox(
        "Split",
        ids,
        format_func=lambda s: f"{names[s]} · {counts[s]} finished runs",
        help="Only runs on the same split can be compared: they are tested on the same users.",
        key="compare_split",
    )


def k_picker(split_id: int) -> int | None:
    """Cut-off K shared by every run of the split (default 10)."""
    ks = lb.available_ks(get_store(), split_id)
    if not ks:
        st.warning("The runs on this split share no cut-off K; re-evaluate them at one K.")
        return None
    return st.selectbox(
        "List length K",
        ks,
        index=ks.index(10) if 10 in ks else 0,
        help="Metrics are computed on each user's top-K recommendations.",
        key="compare_k",
    )


# -- leaderboard --------------------------------------------------------------------------
def _cell(value: float | None, low: float | None, high: float | None, metric: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    digits = 1 if metric == "arp" else 3
    text = f"{value:.{digits}f}"
    if low is not None and high is not None and pd.notna(low) and pd.notna(high):
        text += f" ± {(high - low) / 2:.{digits}f}"
    return text


def leaderboard_section(split_id: int, k: int, primary: str = "ndcg") -> pd.DataFrame:
    """The leaderboard table with the best value per column highlighted, and warnings."""
    runs = _runs(split_id)
    board = _leaderboard(split_id, k, primary, _version(runs))
    if board.empty:
        st.info("No finished run on this split.")
        return board
    metrics = [c for c in (*names.ACCURACY, *names.BEYOND) if c in board and board[c].notna().any()]
    table = pd.DataFrame(
        {
            "Model": [
                f"{model_title(m)} ★" if ref else model_title(m)
                for m, ref in zip(board["model"], board["reference"], strict=True)
            ],
            "Run": board["run_id"].astype(int),
            "Type": [FAMILY_LABEL.get(f, f) for f in board["family"]],
        }
    )
    for mt in metrics:
        table[names.metric_label(f"{mt}@{k}")] = [
            _cell(r[mt], r.get(f"{mt} low"), r.get(f"{mt} high"), mt) for _, r in board.iterrows()
        ]
    table["Training time"] = ["–" if pd.isna(s) else f"{s:.1f} s" for s in board["fit_seconds"]]
    table["Note"] = np.where(board["loses_to_popularity"], "⚠ below Popularity", "")
    best = lb.best_runs(board)

    def highlight(column: pd.Series) -> list[str]:
        name = next((m for m in metrics if names.metric_label(f"{m}@{k}") == column.name), None)
        if name is None or name not in best:
            return [""] * len(column)
        return [
            "background-color: #d4edda; font-weight: 600" if rid == best[name] else ""
            for rid in table["Run"]
        ]

    st.dataframe(
        table.style.apply(highlight, axis=0),
        hide_index=True,
        width="stretch",
        column_config={
            names.metric_label(f"{m}@{k}"): st.column_config.TextColumn(help=HELP.get(m))
            for m in metrics
        },
    )
    st.caption(
        "Rows are sorted by NDCG (best first); the best value of each column is highlighted "
        "(for ARP the lowest). ± is the half-width of the 95% confidence interval over test "
        "users; coverage and personalization describe all lists together, so they have none. "
        "★ marks reference models (simple, strong baselines)."
    )
    losers = board[board["loses_to_popularity"]]
    for r in losers.itertuples():
        st.warning(
            f"**{model_title(r.model)} (run {r.run_id})** scores below the Popularity baseline on "
            f"{names.metric_label(f'{primary}@{k}')}: recommending the most popular items to "
            "everyone would do better. Do not ship it without a reason.",
            icon=":material/warning:",
        )
    if "popularity" not in set(board["model"]):
        st.caption("Tip: train the **popularity** model on this split as a baseline to beat.")
    return board


def charts_section(split_id: int, board: pd.DataFrame, k: int) -> None:
    """Metric@K curves and the accuracy vs coverage/novelty scatter."""
    runs = _runs(split_id)
    ids = tuple(int(i) for i in board["run_id"])
    curves, depths = _curves(ids, _version(runs))
    left, right = st.columns(2)
    with left:
        metric = st.segmented_control(
            "Curve metric",
            ["ndcg", "recall", "precision", "hitrate"],
            default="ndcg",
            format_func=lambda m: names.LABELS[m],
            key="compare_curve_metric",
        )
        st.plotly_chart(
            charts.curves_figure(curves, metric or "ndcg", depths),
            width="stretch",
            key="fig_curves",
        )
        depth = max(depths.values()) if depths else 0
        if depth < names.MAX_CURVE_K:
            st.caption(
                f"Curves stop at K = {depth}: each run stores its top-{depth} lists. "
                "Train with a larger cut-off (e.g. 50) to see longer lists."
            )
    with right:
        x = st.segmented_control(
            "Against",
            ["coverage", "novelty"],
            default="coverage",
            format_func=lambda m: names.LABELS[m],
            key="compare_tradeoff",
        )
        st.plotly_chart(
            charts.tradeoff_scatter(board, k, x or "coverage"), width="stretch", key="fig_trade"
        )
        st.caption(
            "Accuracy is not everything: a model that recommends a wider part of the "
            "catalogue (coverage) or less obvious items (novelty) can be worth a small loss."
        )


# -- A/B panel ----------------------------------------------------------------------------
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
                list(paired_stats.TESTS),
                format_func=ab.TEST_LABELS.get,
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
    options = ab.CompareOptions(
        primary=req["primary"],
        secondary=req["secondary"],
        test=req["test"],
        threshold=req["threshold"],
        guardrail_margin=req["margin"],
        n_resamples=req["resamples"],
        seed=req["seed"],
    )
    try:
        result, html_doc, csv = _comparison(req["a"], req["b"], options, _version(_runs(split_id)))
    except RecsysError as exc:
        st.error(md_escape(exc), icon=":material/block:")
        return
    box, colour, icon = VERDICT_BOX[result.verdict]
    st.badge(result.verdict, color=colour, icon=icon)
    box(f"#### {result.sentence}", icon=icon)
    for note in result.notes:
        st.caption(note)
    for caveat in cmp.segment_caveats(result, req["threshold"]):
        st.warning(f"Not everyone gains — {caveat}", icon=":material/group:")
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
    table = report.metrics_frame(result)
    for col in ("Relative change", "95% CI low", "95% CI high", "Detectable change"):
        table[col] = table[col] * 100
    for col in ("p-value", "p (Holm)"):
        table[col] = [report.fmt(v, "p") for v in table[col]]
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
    guards = report.guardrails_frame(result)
    for g in result.guardrails:
        if g.status == "breached":
            st.warning(
                f"Guardrail: {g.label} falls {abs(g.rel_change):.0%}, more than the "
                f"{options.guardrail_margin:.0%} allowed.",
                icon=":material/shield:",
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
    seg = report.segments_frame(result)
    if not seg.empty:
        seg["p (BH)"] = [report.fmt(v, "p") for v in seg["p (BH)"]]
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
        icon=":material/description:",
        key="dl_report",
    )
    d2.download_button(
        "Download per-user differences (CSV)",
        csv,
        file_name=f"compare_run{req['a']}_vs_run{req['b']}_users.csv",
        mime="text/csv",
        icon=":material/table:",
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
