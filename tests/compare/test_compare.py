"""Paired statistics, verdicts, segments, overlap, leaderboard and report of ``compare``."""

from __future__ import annotations

import html
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recsys_engine.compare import CompareOptions, metric_curves, overlap
from recsys_engine.compare import leaderboard as lb
from recsys_engine.compare import pair as cmp
from recsys_engine.compare import segments as segs
from recsys_engine.compare import stats as ps
from recsys_engine.compare import verdict as vd
from recsys_engine.compare.report import html_report, per_user_csv
from recsys_engine.errors import RecsysError
from recsys_engine.runs import evaluate_run, queue_run, run_model
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A toy dataset with a popularity structure, one split and three reference runs."""
    store = Store(tmp_path_factory.mktemp("cmp") / "db.duckdb")
    rng = np.random.default_rng(3)
    pop = 1.0 / np.arange(1, 61) ** 0.8
    rows = []
    for u in range(120):
        n = int(rng.integers(4, 25))
        for i in rng.choice(60, size=n, replace=False, p=pop / pop.sum()):
            rows.append((f"u{u:03d}", f"i{i:02d}"))
    df = pd.DataFrame(rows, columns=["user_id", "item_id"])
    did = store.create_dataset_from_frames("toy", df, feedback="implicit")
    sid = create_split(store, did, SplitConfig(test_fraction=0.25, seed=1))
    ids = {m: run_model(store, sid, m) for m in ("popularity", "ease", "itemknn")}
    yield store, sid, ids
    store.close()


FAST = CompareOptions(n_resamples=2_000, n_permutations=2_000)


# -- A vs A, mirror -----------------------------------------------------------------------
@pytest.mark.parametrize("test", ps.TESTS)
def test_a_vs_a_is_zero_change_p_one_neutral(runs, test):
    store, _, ids = runs
    opts = CompareOptions(test=test, n_resamples=500, n_permutations=500)
    c = cmp.compare_runs(store, ids["ease"], ids["ease"], opts)
    for r in (c.primary, *c.secondary):
        assert r.diff == 0 and r.rel_change == 0
        assert r.ci_low == r.ci_high == 0
        assert r.p_value == 1.0
        assert r.wins == r.losses == 0 and r.ties == r.n
    assert c.verdict == "Neutral"
    assert "perform the same" in c.sentence
    assert (c.overlap["jaccard"] == 1).all() and np.allclose(c.overlap["rbo"], 1)


def test_identical_results_say_so_instead_of_a_zero_detectable_change(runs):
    """Two runs that score every user the same: the decision does not name a detectable
    change of 0.0%, the tie note counts the users who score 0 under both, the per-user
    histogram says why it is empty and the overlap chart's scale stops at 1."""
    from recsys_engine.compare import charts

    store, _, ids = runs
    c = cmp.compare_runs(store, ids["ease"], ids["ease"], FAST)
    p = c.primary
    assert c.decision.detectable == (
        f"Both runs give each of these {p.n:,} test users exactly the same ranking quality "
        "(NDCG@10): this test set shows no difference between them to measure."
    )
    per_user = c.per_user
    zeros = int((per_user[f"{p.metric} A"] == 0).sum())
    assert f"All {p.n:,} users score the same under both models ({zeros:,} of them score 0 " in (
        " ".join(c.notes)
    )
    hist = charts.difference_histogram(c)
    assert not hist.data and f"every one of the {p.n:,} users" in hist.layout.annotations[0].text
    overlap_fig = charts.overlap_histogram(c)
    assert overlap_fig.layout.barmode == "group"
    assert tuple(overlap_fig.layout.xaxis.range) == (0, 1.05)


def test_the_tie_note_counts_zero_scores_of_both():
    """By hand: 4 users, 3 ties of which 2 score 0 under both."""
    primary = vd.MetricComparison(
        metric="ndcg@10", label="NDCG@10", n=4, mean_a=0.3, mean_b=0.35, diff=0.05,
        rel_change=0.1, ci_low=0.0, ci_high=0.1, rel_ci_low=0.0, rel_ci_high=0.2,
        p_value=0.5, p_adjusted=None, wins=1, ties=3, losses=0, effect_size=0.1, mde=0.1,
        mde_rel=0.3,
    )  # fmt: skip
    a, b = np.array([0.0, 0.0, 0.5, 0.2]), np.array([0.0, 0.0, 0.5, 0.4])
    assert cmp._ties_note(primary, a, b) == (
        "3 of 4 users score the same under both models (2 of them score 0 under both); "
        "they count as ties."
    )


def test_a_vs_b_mirrors_b_vs_a(runs):
    store, _, ids = runs
    ab = cmp.compare_runs(store, ids["popularity"], ids["itemknn"], FAST)
    ba = cmp.compare_runs(store, ids["itemknn"], ids["popularity"], FAST)
    for x, y in zip([ab.primary, *ab.secondary], [ba.primary, *ba.secondary], strict=True):
        assert x.n == y.n
        assert x.diff == pytest.approx(-y.diff)
        assert x.ci_low == pytest.approx(-y.ci_high)
        assert x.ci_high == pytest.approx(-y.ci_low)
        assert x.p_value == pytest.approx(y.p_value)
        assert (x.wins, x.ties, x.losses) == (y.losses, y.ties, y.wins)
        assert x.effect_size == pytest.approx(-y.effect_size)
    assert (ab.verdict, ba.verdict) == ("Worse", "Better")  # ItemKNN loses on this toy data
    seg_ab = ab.segments.set_index("segment")
    seg_ba = ba.segments.set_index("segment")
    assert np.allclose(seg_ab["diff"], -seg_ba.loc[seg_ab.index, "diff"])


# -- parity with scipy --------------------------------------------------------------------
def test_pvalues_match_scipy():
    rng = np.random.default_rng(1)
    a = rng.beta(1, 3, size=300)
    b = np.clip(a + rng.normal(0.02, 0.1, size=300), 0, 1)
    assert ps.paired_pvalue(a, b, "ttest") == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert ps.paired_pvalue(a, b, "wilcoxon") == pytest.approx(stats.wilcoxon(b, a).pvalue)
    assert ps.paired_pvalue(b, a, "ttest") == pytest.approx(stats.ttest_rel(a, b).pvalue)
    # the permutation p-value agrees with the t-test on well-behaved data
    perm = ps.paired_pvalue(a, b, "permutation", n_permutations=20_000)
    assert perm == pytest.approx(stats.ttest_rel(b, a).pvalue, abs=0.02)


def test_effect_size_and_mde():
    d = np.array([0.1, 0.3, -0.1, 0.2, 0.0])
    assert ps.cohens_dz(d) == pytest.approx(d.mean() / d.std(ddof=1))
    assert ps.minimum_detectable_effect(d) == pytest.approx(2.8 * d.std(ddof=1) / np.sqrt(5))


# -- multiple testing ---------------------------------------------------------------------
def test_holm_hand_values():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005 0.01 0.03 0.04 → ×4 ×3 ×2 ×1 = .02 .03 .06 .04 → running max .02 .03 .06 .06
    assert np.allclose(ps.holm(p), [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(ps.holm([0.5, 0.4]), [0.8, 0.8])
    # sorted .01 .8 .9 → ×3 ×2 ×1 = .03 1.6 .9 → capped at 1 → running max .03 1 1
    assert np.allclose(ps.holm([0.9, 0.8, 0.01]), [1.0, 1.0, 0.03])
    out = ps.holm([0.02, np.nan, 0.01])
    assert np.isnan(out[1]) and np.allclose(out[[0, 2]], [0.02, 0.02])


def test_benjamini_hochberg_hand_values():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted .005 .01 .03 .04 → ×4/1 ×4/2 ×4/3 ×4/4 = .02 .02 .04 .04 → running min from top
    assert np.allclose(ps.benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])
    assert np.allclose(ps.benjamini_hochberg([0.04, 0.03, 0.02]), [0.04, 0.04, 0.04])
    assert np.allclose(ps.benjamini_hochberg([0.9, 0.6]), [0.9, 0.9])
    assert np.allclose(ps.benjamini_hochberg([1.0]), [1.0])


# -- calibration on simulated data (vectorised over 1,000 experiments) --------------------
def _null_experiments(n_users=100, n_exp=1_000, seed=11):
    """A and B drawn from one distribution per user (H0 true), many ties at 0."""
    rng = np.random.default_rng(seed)
    base = rng.beta(0.7, 2.0, size=(n_users, n_exp))
    zero = rng.random((n_users, n_exp)) < 0.3
    a = np.where(zero, 0.0, np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1))
    b = np.where(zero, 0.0, np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1))
    return a, b


def test_false_positive_rate_under_the_null():
    a, b = _null_experiments()
    p_t = stats.ttest_rel(b, a, axis=0).pvalue
    assert 0.03 <= (p_t < 0.05).mean() <= 0.07
    p_perm = ps.sign_flip_pvalue(b - a, n_permutations=1_000, seed=3)
    assert 0.03 <= (p_perm < 0.05).mean() <= 0.07
    # the module's own scalar path agrees with the vectorised scipy call
    assert ps.paired_pvalue(a[:, 0], b[:, 0]) == pytest.approx(p_t[0])


def test_bootstrap_ci_coverage():
    rng = np.random.default_rng(5)
    n_users, n_exp, true_mean = 100, 1_000, 0.014
    zero = rng.random((n_users, n_exp)) < 0.3
    d = np.where(zero, 0.0, rng.normal(0.02, 0.1, (n_users, n_exp)))  # mean 0.7 · 0.02
    means = ps.bootstrap_means(d, n_resamples=1_000, seed=2)
    low, high = np.quantile(means, [0.025, 0.975], axis=0)
    coverage = ((low <= true_mean) & (true_mean <= high)).mean()
    assert 0.92 <= coverage <= 0.98


def test_bootstrap_columns_equals_single_metric_bootstrap():
    rng = np.random.default_rng(0)
    a, b = rng.random(50), rng.random(50)
    one = ps.paired_bootstrap(a, b, 1_000, seed=4)
    many = ps.bootstrap_columns(np.c_[a, a], np.c_[b, b], None, 1_000, seed=4)
    assert many["ci_low"][1] == pytest.approx(one["ci_low"])
    assert many["rel_ci_high"][0] == pytest.approx(one["rel_ci_high"])
    assert one["ci_low"] < b.mean() - a.mean() < one["ci_high"]


def test_a_column_where_a_scores_nothing_has_no_relative_interval_and_no_warning():
    """A segment where A scores 0 for every user (e.g. Popularity on new items) has an
    absolute interval but no relative one; it is skipped quietly, not handed to
    nanquantile (which warned "All-NaN slice" into the app's log on every such A/B)."""
    rng = np.random.default_rng(1)
    a, b = rng.random(40), rng.random(40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ps.bootstrap_columns(np.c_[a, np.zeros(40)], np.c_[b, b], None, 500, seed=2)
    assert np.isnan(out["rel_ci_low"][1]) and np.isnan(out["rel_ci_high"][1])
    assert out["ci_low"][1] < b.mean() < out["ci_high"][1]
    one = ps.paired_bootstrap(a, b, 500, seed=2)  # the other column is unchanged
    assert out["rel_ci_low"][0] == pytest.approx(one["rel_ci_low"])


# -- verdicts -----------------------------------------------------------------------------
def _result(a, b, **kw):
    opts = CompareOptions(n_resamples=2_000, **kw)
    r = vd.compare_values(np.asarray(a), np.asarray(b), "ndcg@10", opts)
    return r, vd.verdict(r, opts.threshold, opts.alpha)


def test_verdict_rules():
    rng = np.random.default_rng(9)
    a = rng.beta(2, 3, size=2_000)
    noise = rng.normal(0, 0.05, size=2_000)
    assert _result(a, a + 0.05 + noise)[1] == "Better"
    assert _result(a, a - 0.05 + noise)[1] == "Worse"
    assert _result(a, a + noise * 0.01)[1] == "Neutral"  # tiny noise: CI within ±1%
    r, v = _result(a[:30], a[:30] + rng.normal(0.01, 0.3, size=30))
    assert v == "Inconclusive" and r.mde_rel > 0.01
    # significant but below the practical threshold: never "Better"
    r, v = _result(a, a * 1.004 + noise * 0.001)
    assert r.ci_low > 0 and v != "Better"


def test_sentence_names_the_guardrail():
    r, v = _result(np.full(100, 0.5), np.full(100, 0.6) + np.linspace(-0.01, 0.01, 100))
    g = vd.Guardrail("coverage@10", "Coverage@10", 0.4, 0.28, -0.3, "breached")
    text = vd.plain_sentence(r, v, "popularity (run 1)", "ease (run 2)", [g], 0.01)
    assert text.startswith("ease (run 2) raises NDCG@10 by 20.0% over popularity (run 1)")
    assert "Coverage@10 falls 30.0% — check the guardrail" in text


# -- overlap ------------------------------------------------------------------------------
def _recs(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(u, r + 1, i) for u, items in lists.items() for r, i in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "rank", "item_id"])


def test_jaccard_and_rbo():
    a = _recs({"same": ["x", "y", "z"], "apart": ["x", "y", "z"], "hand": ["1", "2", "3"]})
    b = _recs({"same": ["x", "y", "z"], "apart": ["p", "q", "r"], "hand": ["1", "3", "4"]})
    ov = overlap.list_overlap(a, b, k=3).set_index("user_id")
    assert ov.loc["same", "jaccard"] == 1 and ov.loc["same", "rbo"] == pytest.approx(1)
    assert ov.loc["apart", "jaccard"] == 0 and ov.loc["apart", "rbo"] == 0
    p = 0.9  # X_1 = 1, X_2 = 1, X_3 = 2
    expected = 2 / 3 * p**3 + (1 - p) / p * (1 * p + 1 / 2 * p**2 + 2 / 3 * p**3)
    assert ov.loc["hand", "jaccard"] == pytest.approx(0.5)
    assert ov.loc["hand", "rbo"] == pytest.approx(expected)


# -- segments, refusals, leaderboard, curves, report --------------------------------------
def test_segment_counts_add_up(runs):
    store, sid, ids = runs
    c = cmp.compare_runs(store, ids["popularity"], ids["ease"], FAST)
    n = c.primary.n
    for family, part in c.segments.groupby("family"):
        assert part["users"].sum() == n, family
        assert (part["wins"] + part["ties"] + part["losses"]).sum() == n
    seg = segs.user_segments(store, sid)
    assert len(seg) == n
    assert seg["activity"].nunique() == 3
    assert (c.segments["p_bh"] >= c.segments["p_value"] - 1e-12).all()
    # terciles never overlap: each activity segment's range starts after the previous
    ranges = seg.groupby("activity")["train_interactions"].agg(["min", "max"]).sort_values("min")
    assert (ranges["min"].to_numpy()[1:] > ranges["max"].to_numpy()[:-1]).all()


def test_refuses_runs_on_different_splits(runs):
    store, sid, ids = runs
    other = create_split(
        store, store.get_split(sid)["dataset_id"], SplitConfig(test_fraction=0.3, seed=5)
    )
    rid = run_model(store, other, "popularity")
    with pytest.raises(RecsysError, match="same split"):
        cmp.compare_runs(store, ids["ease"], rid, FAST)


def test_refuses_a_run_evaluated_from_training_histories_until_re_evaluated(runs):
    store, sid, ids = runs
    rid = run_model(store, sid, "popularity")
    run = store.get_run(rid)
    old = {k: v for k, v in run["eval_info"].items() if k != "test_history"}
    store.update_run_evaluation(rid, eval_seconds=0.1, eval_info=old, options=run["options"])
    with pytest.raises(RecsysError, match=f"re-evaluate it first: .* evaluate {rid}$"):
        cmp.compare_runs(store, ids["ease"], rid, FAST)
    evaluate_run(store, rid)
    assert cmp.compare_runs(store, ids["ease"], rid, FAST).run_b["id"] == rid


def test_refuses_unfinished_runs_and_missing_k(runs):
    store, sid, ids = runs
    queued = queue_run(store, sid, "popularity", {})
    with pytest.raises(RecsysError, match="queued"):
        cmp.compare_runs(store, ids["ease"], queued, FAST)
    with pytest.raises(RecsysError, match="NDCG@7"):
        cmp.compare_runs(store, ids["popularity"], ids["ease"], CompareOptions(primary="ndcg@7"))
    with pytest.raises(RecsysError, match="ndcg@10"):
        CompareOptions(primary="ndcg")


def test_leaderboard_and_curves(runs):
    store, sid, ids = runs
    board = lb.leaderboard(store, sid, k=10)
    assert set(board["run_id"]) >= set(ids.values())
    assert board["reference"].all()
    assert {"ndcg", "ndcg low", "coverage", "novelty", "fit_seconds"} <= set(board.columns)
    pop = board.loc[board["model"] == "popularity", "ndcg"].max()
    assert (
        board["loses_to_popularity"] == ((board["model"] != "popularity") & (board["ndcg"] < pop))
    ).all()
    best = lb.best_runs(board)
    assert best["ndcg"] == int(board.loc[board["ndcg"].idxmax(), "run_id"])
    curves, depths = metric_curves(store, list(ids.values()))
    assert set(depths.values()) == {50}  # RECOMMENDATION_DEPTH
    for rid in ids.values():
        stored = store.run_metrics(rid).query("metric == 'ndcg' and k == 10")["value"].iloc[0]
        drawn = curves.query("run_id == @rid and metric == 'ndcg' and k == 10")["value"].iloc[0]
        assert drawn == pytest.approx(stored)


def test_report_is_small_offline_escaped_and_opens_with_the_decision(runs):
    store, sid, ids = runs
    c = cmp.compare_runs(store, ids["popularity"], ids["ease"], FAST)
    doc = html_report(c)
    assert len(doc.encode("utf-8")) < 1_000_000  # a typical comparison stays under 1 MB
    assert "<script" not in doc and "http://" not in doc.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "https://" not in doc  # nothing fetched: opens offline
    split = store.get_split(sid)["name"]
    title = f"EASE (run {ids['ease']}) vs Popularity (run {ids['popularity']}) on toy · {split}"
    assert f"<title>{html.escape(title)}</title>" in doc
    # the decision comes first, before the verdict, the tables and the charts
    order = [doc.index(x) for x in (html.escape(c.decision.headline), c.verdict, "<table", "<svg")]
    assert order == sorted(order)
    assert doc.count("<svg") == 2  # metrics and segments
    c.run_b["label"] = "<script>alert(1)</script>"
    doc = html_report(c)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "<script>alert(1)</script>" not in doc
    csv = per_user_csv(c).decode()
    assert csv.splitlines()[0].startswith("user_id,")
    assert len(csv.splitlines()) == c.primary.n + 1


def test_segment_caveats_name_the_segments_that_go_the_other_way():
    from types import SimpleNamespace

    segments = pd.DataFrame(
        {
            "segment": ["new users", "heavy users", "light users"],
            "users": [81, 300, 200],
            "rel_change": [-0.065, 0.20, -0.30],
            "rel_ci_low": [-0.14, 0.10, -0.40],
            "rel_ci_high": [0.01, 0.30, -0.20],
        }
    )
    primary = SimpleNamespace(label="NDCG@10")
    run_b = {"label": "EASE (run 2)"}
    better = SimpleNamespace(verdict="Better", segments=segments, primary=primary, run_b=run_b)
    notes = cmp.segment_caveats(better)
    assert len(notes) == 2
    assert notes[0].startswith(
        "new users (81 users): EASE (run 2) shows no clear gain on NDCG@10 (-6.5%"
    )
    assert notes[1].startswith("light users (200 users): EASE (run 2) does worse")
    neutral = SimpleNamespace(verdict="Neutral", segments=segments, primary=primary, run_b=run_b)
    assert cmp.segment_caveats(neutral) == []


# -- leaderboard rank groups --------------------------------------------------------------
def test_rank_groups_tie_runs_a_paired_test_cannot_tell_from_the_best():
    users = [f"u{i}" for i in range(200)]
    base = pd.Series(np.linspace(0.2, 0.8, 200), index=users)
    wiggle = pd.Series(np.tile([0.001, -0.001], 100), index=users)  # mean 0: tied
    values = {
        1: base,
        2: base + wiggle,
        3: base * 0.5,  # every user half as good: clearly worse
        4: base * 0.5 + wiggle,  # tied with run 3
        5: pd.Series([np.nan] * 200, index=users),  # no per-user values: no group
    }
    assert lb.rank_groups(values) == {1: 1, 2: 1, 3: 2, 4: 2}
    # lower is better (ARP): the order flips
    assert lb.rank_groups({k: values[k] for k in (1, 3)}, lower_is_better=True) == {3: 1, 1: 2}


def test_leaderboard_has_rank_groups(runs):
    store, sid, ids = runs
    board = lb.leaderboard(store, sid, k=10)
    assert board.loc[0, "rank_group"] == 1  # the best run is in group 1
    assert board["rank_group"].is_monotonic_increasing
    from recsys_engine.compare.tables import leaderboard_frame

    frame = leaderboard_frame(board, 10)
    assert frame.columns[0] == "Rank group"
    # "tied" only when group 1 holds more than one run
    tied, alone = board.copy(), board.copy()
    n = len(board)
    tied["rank_group"], alone["rank_group"] = [1, 1, *range(2, n)], list(range(1, n + 1))
    later = [str(g) for g in range(2, n)]
    assert leaderboard_frame(tied, 10)["Rank group"].tolist() == [
        "1 · tied for best",
        "1 · tied for best",
        *later,
    ]
    assert leaderboard_frame(alone, 10)["Rank group"].tolist() == ["1 · best", *later, str(n)]
    from recsys_engine.compare.tables import runs_tied_for_best

    assert (runs_tied_for_best(tied), runs_tied_for_best(alone)) == (2, 1)
    assert runs_tied_for_best(board.drop(columns="rank_group")) == 0


def test_activity_labels_name_a_single_count_without_a_range():
    from recsys_engine.compare.segments import _count_range

    assert _count_range(4, 4) == "4 interactions"
    assert _count_range(1, 1) == "1 interaction"
    assert _count_range(5, 6) == "5–6 interactions"


def test_best_against_rest_gives_one_decision_per_challenger(runs):
    from recsys_engine.compare.sweep import best_against_rest

    store, sid, ids = runs
    board = lb.leaderboard(store, sid, 10)
    order = [int(r) for r in board["run_id"]]
    sweep = best_against_rest(store, order, FAST)
    assert sweep.best == order[0]
    assert [c.run_b["id"] for c in sweep.pairs] == order[1:]
    for c in sweep.pairs:
        # each pair is exactly the A/B panel's comparison of that pair
        alone = cmp.compare_runs(store, order[0], c.run_b["id"], FAST)
        assert c.decision == alone.decision and c.verdict == alone.verdict
    frame = sweep.frame()
    assert list(frame["challenger"]) == [c.run_b["label"] for c in sweep.pairs]
    assert set(frame["kind"]) <= {"switch", "keep", "no_difference", "trade_off"}
    with pytest.raises(RecsysError, match="at least two runs"):
        best_against_rest(store, order[:1])


def test_scatter_labels_of_close_points_do_not_overlap():
    from recsys_engine.compare.charts import _CHAR_WIDTH, _LABEL_HEIGHT, _PLACES, label_positions

    # two runs with identical metrics, a third close by, a fourth far away
    xs = np.array([0.068, 0.068, 0.070, 0.035])
    ys = np.array([0.36, 0.36, 0.30, 0.42])
    texts = ["Popularity (run 1)", "Hybrid (run 5)", "Two-tower (run 4)", "Item-kNN (run 3)"]
    places = label_positions(xs, ys, texts)
    assert places[0] != places[1]  # the identical pair gets two different places
    offsets = {name: (dx, dy) for name, dx, dy in _PLACES}
    ux = (xs - xs.min()) / (xs.max() - xs.min())
    uy = (ys - ys.min()) / (ys.max() - ys.min())
    boxes = []
    for x, y, text, place in zip(ux, uy, texts, places, strict=True):
        w = len(text) * _CHAR_WIDTH
        dx, dy = offsets[place]
        cx, cy = x + dx(w), y + dy
        boxes.append((cx - w / 2, cy - _LABEL_HEIGHT / 2, cx + w / 2, cy + _LABEL_HEIGHT / 2))
    for i in range(4):
        for j in range(i + 1, 4):
            a, b = boxes[i], boxes[j]
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (i, j)
    assert label_positions(np.array([]), np.array([]), []) == []


def test_leaderboard_cells_read_value_plus_minus_half_the_ci_per_run():
    # hand-checked: 0.25 with CI [0.2, 0.3] reads "0.250 ± 0.050"; a metric without CI
    # columns reads the value alone; a missing value reads "–"
    from recsys_engine.compare.tables import leaderboard_frame

    board = pd.DataFrame(
        {
            "run_id": [7, 3],
            "model": ["ease", "two_tower"],
            "family": ["reference", "collaborative"],
            "reference": [True, False],
            "fit_seconds": [0.5, None],
            "ndcg": [0.25, 0.125],
            "ndcg low": [0.2, None],
            "ndcg high": [0.3, None],
            "recall": [None, 0.5],
            "loses_to_popularity": [False, True],
        }
    )
    frame = leaderboard_frame(board, 10)
    ndcg, recall = (c for c in frame.columns if c.startswith(("NDCG", "Recall")))
    assert list(frame[ndcg]) == ["0.250 ± 0.050", "0.125"]
    assert list(frame[recall]) == ["–", "0.500"]
    assert list(frame["Run"]) == [7, 3]
    assert list(frame["Training time"]) == ["0.5 s", "–"]
    assert list(frame["Note"]) == ["", "⚠ below Popularity"]
    # no run below Popularity: no empty "Note" column widening the table
    assert "Note" not in leaderboard_frame(board.assign(loses_to_popularity=False), 10)


def test_the_glossary_names_a_metric_once_when_its_plain_name_is_its_label():
    from recsys_engine.compare.names import glossary

    terms = [term for term, _ in glossary(["ndcg", "novelty", "personalization"])]
    assert terms[:3] == ["Ranking quality (NDCG)", "Novelty", "Personalization"]
    assert any("RBO" in term for term in terms)  # the A/B overlap chart's measures


def test_the_per_user_histogram_notes_its_ties_above_the_bars(runs):
    from recsys_engine.compare import charts

    store, _, ids = runs
    c = cmp.compare_runs(store, ids["popularity"], ids["ease"], FAST)
    (note,) = charts.difference_histogram(c).layout.annotations
    assert note.text == f"{c.primary.ties:,} users with no difference are not drawn"
    assert (note.y, note.yanchor) == (1.0, "bottom")  # over the plot area, not the bars


def test_headers_and_labels_name_a_metric_once_when_its_plain_name_is_its_label():
    from recsys_engine.compare.names import column_title, plain_label, plain_title

    assert column_title("ndcg", 10) == "Ranking quality · NDCG@10"
    assert column_title("novelty", 10) == "Novelty@10"  # not "Novelty · Novelty@10"
    assert column_title("personalization", 5) == "Personalization@5"
    assert plain_label("coverage@10") == "catalogue coverage (Coverage@10)"
    assert plain_label("novelty@10") == "Novelty@10"
    assert plain_title("ndcg@20") == "Ranking quality (NDCG@20)"


def test_recall_and_hit_rate_are_said_to_agree_only_when_they_do():
    from recsys_engine.compare.tables import recall_is_hitrate

    one_item = pd.DataFrame({"recall": [0.3287, 0.4840], "hitrate": [0.3287, 0.4840]})
    assert recall_is_hitrate(one_item)
    assert not recall_is_hitrate(one_item.assign(recall=[0.2, 0.4840]))
    assert not recall_is_hitrate(one_item.drop(columns="hitrate"))


def test_the_segment_table_gives_the_change_where_a_relative_one_has_no_base(runs):
    """A segment where A scores 0: the relative change is missing (no base), the absolute
    change B − A is still there; the report prints a dash, not "nan"."""
    from recsys_engine.compare.tables import segments_frame

    store, _, ids = runs
    c = cmp.compare_runs(store, ids["popularity"], ids["ease"], FAST)
    frame = segments_frame(c)
    assert np.allclose(frame["Change"], frame["B"] - frame["A"])
    c.segments.loc[0, ["mean_a", "rel_change", "rel_ci_low", "rel_ci_high"]] = [
        0.0, np.nan, np.nan, np.nan]  # fmt: skip
    assert pd.isna(segments_frame(c).loc[0, "Relative change"])
    from recsys_engine.compare import charts

    labels = [trace.y[0] for trace in charts.segment_forest(c).data]  # a trace per row
    assert labels[0].endswith(" · A scores 0: no % change")
    assert not any("no % change" in label for label in labels[1:])
    doc = html_report(c)
    assert "nan%" not in doc and "nan</td>" not in doc
