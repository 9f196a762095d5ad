"""Compare page, A/B panel: the request. Baseline and candidate pickers, the decision
metric, the metrics also checked and the options; the last submitted request is kept in
session state, and a choice changed since is named instead of showing a stale result (the
result itself is drawn by ``ui.compare_ab``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_engine.compare import TEST_LABELS, TESTS, names
from recsys_engine.models import model_title
from ui.text import md_escape

REQUEST = "compare_request"  # the last submitted A/B request (ids and options only)


def _describe(req: dict, labels: dict[int, str]) -> dict[str, str]:
    """A request in words, per setting (to say what changed since the last comparison)."""
    return {
        "Baseline A": labels.get(req["a"], f"run {req['a']}"),
        "Candidate B": labels.get(req["b"], f"run {req['b']}"),
        "Decision metric": names.metric_label(req["primary"]),
        "Also check": ", ".join(names.metric_label(m) for m in req["secondary"]) or "none",
        "Significance test": TEST_LABELS[req["test"]],
        "Smallest change that matters": f"{req['threshold']:.1%}",
        "Largest tolerated guardrail drop": f"{req['margin']:.0%}",
        "Bootstrap resamples": f"{req['resamples']:,}",
        "Random seed": str(req["seed"]),
    }


def ab_form(board: pd.DataFrame, k: int) -> tuple[dict | None, list[str]]:
    """Baseline/candidate pickers and options.

    Returns the last submitted request (None when there is none for this K and these runs,
    or while A and B are the same run)
    and what has changed in the pickers since it was submitted, e.g. ``["Candidate B: EASE
    (run 2) → Two-tower (run 4)"]``: a result for an older choice is never shown as current.
    The pickers are plain widgets, not a form, so a change reruns the page and is seen.
    """
    ids = [int(i) for i in board["run_id"]]
    labels = {
        int(r): f"{model_title(m)} (run {r})"
        for r, m in zip(board["run_id"], board["model"], strict=True)
    }
    # A, "what you have today", starts at a simple baseline: Popularity, else the best
    # reference model (the board is sorted best first), never the worst run by default
    pop = [int(r) for r in board.loc[board["model"] == "popularity", "run_id"]]
    ref = [int(r) for r in board.loc[board["reference"].astype(bool), "run_id"]]
    base = (pop or ref or ids[-1:])[0]
    cand = next(i for i in ids if i != base) if len(ids) > 1 else base
    accuracy = [m for m in names.ACCURACY if m in board]

    def metric_name(m: str) -> str:
        return f"{names.PLAIN.get(m, m)} ({names.metric_label(f'{m}@{k}')})"

    with st.container(border=True):
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
        c1, _ = st.columns(2)
        primary = c1.selectbox(
            "Decision metric",
            accuracy,
            index=accuracy.index("ndcg") if "ndcg" in accuracy else 0,
            format_func=metric_name,
            key="ab_primary",
            help="The one metric the decision is based on. Decide it before looking at results.",
        )
        # a row of its own: at half width the three default metrics' chips did not fit
        # (the box shows one line of chips and cut the second, hiding the third)
        secondary = st.multiselect(
            "Also check",
            accuracy,
            default=[m for m in ("recall", "hitrate", "mrr") if m in accuracy],
            format_func=metric_name,
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
        same = int(a) == int(b)
        submitted = st.button("Compare A and B", type="primary", key="ab_go", disabled=same)
        if same:
            st.warning(
                "A and B are the same run: there is nothing to compare. Pick two different "
                "runs.",
                icon="⚠️",
            )
    current = {
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
    if same:  # no decision, not even an older one, under a choice that cannot have one
        return None, []
    if submitted:
        st.session_state[REQUEST] = current
    req = st.session_state.get(REQUEST)
    if not (req and req["a"] in ids and req["b"] in ids and req["primary"].endswith(f"@{k}")):
        return None, []
    was, now = _describe(req, labels), _describe(current, labels)
    changed = [f"{key}: {was[key]} → {now[key]}" for key in was if was[key] != now[key]]
    return req, changed


def stale_notice(changed: list[str]) -> None:
    """Say that the shown choice differs from the last comparison, instead of its result."""
    lines = "\n".join(f"- {md_escape(c)}" for c in changed)
    st.info(
        "**The choice above has changed since the last comparison**, so its decision is "
        f"hidden:\n{lines}\n\nPress **Compare A and B** for the decision on this choice.",
        icon="🔄",
    )
