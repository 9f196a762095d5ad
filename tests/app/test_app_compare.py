"""AppTest of the Compare page: guidance without runs, leaderboard, A/B verdict, standalone."""

from __future__ import annotations

import pytest
import streamlit as st
from compare_support import BRANCHES, HEADLINES, synthetic_run
from streamlit.testing.v1 import AppTest

from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB", str(tmp_path / "db.duckdb"))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    yield at
    from ui.resources import get_runner

    get_runner().shutdown(wait=True)
    st.cache_resource.clear()
    st.cache_data.clear()


def _train_two(config: SplitConfig | None = None) -> tuple[int, int]:
    """Popularity and EASE on the demo dataset, through the store functions."""
    from ui.resources import get_store

    store = get_store()
    did = int(store.list_datasets()["id"].iloc[0])
    sid = create_split(store, did, config or SplitConfig(test_fraction=0.2, seed=3))
    return run_model(store, sid, "popularity"), run_model(store, sid, "ease")


@pytest.fixture
def branches(app):
    """Popularity on the demo data plus one synthetic run per decision branch."""
    from ui.resources import get_store

    store = get_store()
    did = int(store.list_datasets()["id"].iloc[0])
    sid = create_split(store, did, SplitConfig(test_fraction=0.2, seed=3))
    pop = run_model(store, sid, "popularity")
    store.set_run_status(pop, "succeeded", fit_seconds=0.5)
    return pop, {b: synthetic_run(store, pop, *spec) for b, spec in BRANCHES.items()}


def _decision_text(at) -> str:
    text = " ".join(e.value for e in (*at.success, *at.info, *at.warning, *at.error))
    return text.replace("\\", "")  # markdown escapes of run names and numbers


def _run_ab(at, a: int, b: int) -> None:
    """On the Compare page, A/B test run ``a`` against run ``b`` (1,000 resamples)."""
    at.switch_page("pages/compare.py").run()
    at.selectbox(key="ab_a").set_value(a)
    at.selectbox(key="ab_b").set_value(b)
    at.select_slider(key="ab_resamples").set_value(1_000)
    at.button(key="ab_go").click().run()


@pytest.mark.parametrize("branch", list(BRANCHES))
def test_each_decision_branch_opens_the_result(app, branches, branch):
    pop, runs = branches
    _run_ab(app, pop, runs[branch])
    assert not app.exception
    text = _decision_text(app)
    assert HEADLINES[branch] in text, text
    # decision first: the headline comes before the statistical verdict and the tables
    blocks = [m.value for m in app.markdown]
    why = next(i for i, v in enumerate(blocks) if v.startswith("**Why"))
    decision = next(i for i, v in enumerate(blocks) if v.startswith("**Decision for"))
    assert decision < why
    if branch == "trade_off":
        assert "catalogue coverage (Coverage@10)" in text
    if branch == "no_difference":
        assert "trained in 0.5 s" in text and "in 100.0 s" in text
    captions = " ".join(c.value for c in app.caption).replace("\\", "")
    if branch == "no_difference":  # its synthetic run scores every user as Popularity does
        assert "this test set shows no difference between them to measure" in captions
    else:
        assert "this comparison reliably detects changes" in captions


@pytest.mark.parametrize("branch", list(BRANCHES))
def test_the_decided_run_is_one_click_from_its_explanations(app, branches, branch):
    """Switch → B, keep → A: a button opens Explain on that run (Explain otherwise opens
    on the run explained last, or the newest). A trade-off or no difference names no run
    to use, so there is no button."""
    pop, runs = branches
    _run_ab(app, pop, runs[branch])
    chosen = {"switch": runs["switch"], "keep": pop}.get(branch)
    buttons = [b for b in app.button if b.key == "ab_explain"]
    if chosen is None:
        assert not buttons
        return
    (button,) = buttons
    assert button.label.startswith("See why ") and f"(run {chosen})" in button.label
    if branch == "keep":  # a real run (the synthetic ones have no model files to explain)
        button.click().run()
        assert not app.exception, [e.value for e in app.exception]
        assert app.title[0].value == "Explain"
        assert app.selectbox(key="explain_run_pick").value == pop


def test_changing_a_choice_hides_the_old_decision(app, branches):
    pop, runs = branches
    app.switch_page("pages/compare.py").run()
    app.selectbox(key="ab_a").set_value(pop)
    app.selectbox(key="ab_b").set_value(runs["switch"])
    app.select_slider(key="ab_resamples").set_value(1_000)
    app.button(key="ab_go").click().run()
    assert HEADLINES["switch"] in _decision_text(app)
    for key, value in (("ab_b", runs["keep"]), ("ab_threshold", 5.0)):
        widget = app.selectbox(key=key) if key == "ab_b" else app.number_input(key=key)
        widget.set_value(value).run()
        assert not app.exception
        text = _decision_text(app)
        assert "has changed since the last comparison" in text
        assert HEADLINES["switch"] not in text and not app.get("download_button")
    assert "Candidate B: EASE (run" in text and "→ Two-tower (run" in text
    assert "Smallest change that matters: 1.0% → 5.0%" in text
    app.button(key="ab_go").click().run()
    text = _decision_text(app)
    assert HEADLINES["keep"] in text and "has changed" not in text


def test_the_same_run_as_a_and_b_gives_no_decision(app, branches):
    """A run against itself has nothing to decide: the button is off, a warning says why,
    and a decision shown before for two runs goes while A and B are one run."""
    pop, runs = branches
    _run_ab(app, pop, runs["switch"])
    assert HEADLINES["switch"] in _decision_text(app)
    app.selectbox(key="ab_b").set_value(pop).run()
    assert not app.exception
    assert app.button(key="ab_go").disabled
    text = _decision_text(app)
    assert "A and B are the same run: there is nothing to compare" in text
    assert not any(h in text for h in HEADLINES.values()), text
    assert "has changed since the last comparison" not in text
    assert not app.get("download_button")
    app.selectbox(key="ab_b").set_value(runs["switch"]).run()
    assert not app.button(key="ab_go").disabled


def test_without_popularity_a_starts_at_the_best_reference_model(app, branches):
    """"What you have today" starts at a simple baseline: with no Popularity run, the best
    reference model (EASE or Item-kNN here, both +0.05), never the worst run (Two-tower,
    −0.05), which would flatter any candidate."""
    from recsys_engine.runs import delete_run
    from ui.resources import get_store

    pop, runs = branches
    delete_run(get_store(), pop)
    app.switch_page("pages/compare.py").run()
    assert not app.exception
    assert app.selectbox(key="ab_a").value in (runs["switch"], runs["trade_off"])
    assert app.selectbox(key="ab_b").value != app.selectbox(key="ab_a").value


def test_glossary_is_always_visible(app, branches):
    app.switch_page("pages/compare.py").run()
    words = " ".join(m.value for m in app.markdown)
    assert "What the words mean" in words
    assert "Ranking quality (NDCG)" in words and "share of the catalogue ever recommended" in words
    assert "Smallest detectable change" in words


def test_without_runs_the_page_says_what_to_do(app):
    app.switch_page("pages/compare.py").run()
    assert not app.exception
    text = " ".join(i.value for i in app.info)
    assert "Nothing to compare yet" in text and "Train" in text


def test_leaderboard_and_verdict(app):
    pop, ease = _train_two()
    app.switch_page("pages/compare.py").run()
    assert not app.exception
    board = app.dataframe[0].value
    shown = board.data if hasattr(board, "data") else board  # a Styler or a frame
    assert list(shown["Run"]) == [ease, pop]  # sorted by NDCG, EASE first
    assert "NDCG@10" in shown.columns and "Coverage@10" in shown.columns
    assert app.selectbox(key="ab_a").value == pop and app.selectbox(key="ab_b").value == ease
    app.button(key="ab_go").click().run()
    assert not app.exception
    assert HEADLINES["switch"] in _decision_text(app)  # EASE beats Popularity on the demo data
    sentences = [m.value.replace("\\", "") for m in app.markdown]
    assert any("NDCG@10" in s and "95% CI" in s for s in sentences), sentences
    assert any("EASE (run" in s and "raises NDCG@10" in s for s in sentences)
    # the A/B's forest, histogram, segments and overlap; the curves and the trade-off
    # scatter wait in their closed expander
    assert len(app.get("plotly_chart")) == 4
    assert [b.label for b in app.get("download_button")] == [
        "Download the report (HTML)",
        "Download per-user differences (CSV)",
    ]
    # the options change the test; the page recomputes without error
    app.radio(key="ab_test").set_value("wilcoxon")
    app.button(key="ab_go").click().run()
    assert not app.exception


def test_page_runs_standalone(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB", str(tmp_path / "db.duckdb"))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file("../../pages/compare.py", default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Compare"
    _train_two()
    at.run()
    assert not at.exception
    assert len(at.dataframe) >= 1
    st.cache_resource.clear()
    st.cache_data.clear()


def test_best_against_every_other_in_one_click(app, branches):
    pop, runs = branches
    app.switch_page("pages/compare.py").run()
    assert not app.exception
    app.button(key="sweep_go").click().run()
    assert not app.exception
    lines = [m.value.replace("\\", "") for m in app.markdown if "—" in m.value]
    # the best synthetic run (EASE or Item-kNN, +0.05 per user) leads; one line per other run
    lead = next(m.value for m in app.markdown if "leads on ranking quality" in m.value)
    lead = lead.replace("\\", "")
    assert "EASE (run" in lead or "Item-kNN (run" in lead
    assert len(lines) == len(runs)  # 5 runs on the split: the best against 4 others
    assert any("Popularity (run" in line and "Keep" in line for line in lines)


def _figure(at, key: str) -> dict:
    import json

    chart = next(c for c in at.get("plotly_chart") if key in c.proto.id)
    return json.loads(chart.proto.spec)


def _points(at) -> int:
    """Runs drawn on the accuracy vs coverage scatter (one trace per model family)."""
    return sum(len(trace["text"]) for trace in _figure(at, "fig_trade")["data"])


def test_cached_figures_and_ks_follow_runs_added_and_deleted(app):
    """The curves, the trade-off scatter and the K picker are cached across renders and
    sessions; a run trained or deleted on the split shows (or goes) at the next render."""
    from recsys_engine.runs import delete_run
    from ui.compare import CHARTS_KEY
    from ui.resources import get_store

    pop, ease = _train_two()
    at = app.switch_page("pages/compare.py").run()
    assert not at.exception
    assert not at.get("plotly_chart")  # the charts are drawn only once their expander opens
    at.session_state[CHARTS_KEY] = True
    at.run()
    assert len(_figure(at, "fig_curves")["data"]) == 2
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/compare.py").run()  # opened once: still open after a page switch
    assert len(_figure(at, "fig_curves")["data"]) == 2
    assert _points(at) == 2
    assert at.selectbox(key="compare_k").options == ["5", "10", "20"]
    store = get_store()
    split_id = int(store.get_run(pop)["split_id"])
    knn = run_model(store, split_id, "itemknn")
    at.run()
    assert not at.exception
    assert len(_figure(at, "fig_curves")["data"]) == 3
    assert _points(at) == 3
    delete_run(store, knn)
    delete_run(store, ease)
    at.run()
    assert not at.exception
    assert any("Nothing to compare yet" in i.value for i in at.info)
