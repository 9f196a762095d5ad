"""The decision of an A/B comparison, one test per branch, on hand-built comparisons."""

from __future__ import annotations

import json

import pandas as pd

from recsys_engine.compare import KINDS, CompareOptions, Comparison, Guardrail, MetricComparison
from recsys_engine.compare.decision import reliable_segments

A = {"id": 1, "label": "Popularity (run 1)", "reference": True, "fit_seconds": 0.5}
B = {"id": 2, "label": "EASE (run 2)", "reference": True, "fit_seconds": 30.0}
FORBIDDEN = ("yet", "more data", "wait", "collect")


def _primary(rel, rel_lo, rel_hi, p=0.001, n=1_000, mde_rel=0.03) -> MetricComparison:
    mean_a = 0.4
    return MetricComparison(
        metric="ndcg@10",
        label="NDCG@10",
        n=n,
        mean_a=mean_a,
        mean_b=mean_a * (1 + rel),
        diff=mean_a * rel,
        rel_change=rel,
        ci_low=mean_a * rel_lo,
        ci_high=mean_a * rel_hi,
        rel_ci_low=rel_lo,
        rel_ci_high=rel_hi,
        p_value=p,
        p_adjusted=None,
        wins=500,
        ties=200,
        losses=300,
        effect_size=0.2,
        mde=mean_a * mde_rel,
        mde_rel=mde_rel,
    )


def _segment(name, users, rel, lo, hi, p_bh=0.001) -> dict:
    return {
        "family": "Cold start",
        "segment": name,
        "users": users,
        "rel_change": rel,
        "rel_ci_low": lo,
        "rel_ci_high": hi,
        "ci_low": 0.4 * lo,
        "ci_high": 0.4 * hi,
        "p_bh": p_bh,
    }


def _comparison(verdict, primary, guardrails=(), segments=(), a=A, b=B) -> Comparison:
    empty = pd.DataFrame()
    return Comparison(
        run_a=dict(a),
        run_b=dict(b),
        options=CompareOptions(n_resamples=100, n_permutations=100),
        primary=primary,
        secondary=[],
        guardrails=list(guardrails),
        verdict=verdict,
        sentence="",
        segments=pd.DataFrame(list(segments)),
        per_user=empty,
        overlap=pd.DataFrame({"jaccard": [], "rbo": []}),
    )


COVERAGE_OK = Guardrail("coverage@10", "Coverage@10", 0.30, 0.29, -1 / 30, "ok")
COVERAGE_DROP = Guardrail("coverage@10", "Coverage@10", 0.40, 0.342, -0.145, "breached")
NEW_GAIN = _segment("New users (≤5 interactions)", 81, 0.20, 0.05, 0.35)
ESTABLISHED_LOSS = _segment("Established users (>5)", 917, -0.05, -0.08, -0.02)


def test_switch_when_b_is_better_and_nothing_counts_against_it():
    c = _comparison("Better", _primary(0.10, 0.05, 0.15), [COVERAGE_OK], [NEW_GAIN])
    d = c.decision
    assert d.kind == "switch"
    assert d.headline == "Switch to EASE (run 2)"
    assert d.reasons == (
        "EASE (run 2) raises ranking quality (NDCG@10) by 10.0% over Popularity (run 1) "
        "(95% confidence range +5.0% to +15.0%), above the 1% that matters.",
    )
    assert d.detectable == (
        "With these 1,000 test users, this comparison reliably detects changes in ranking "
        "quality (NDCG@10) of about 3.0% or more; a true difference smaller than 3.0% can go "
        "unseen on this fixed test set."
    )
    assert d.sentence.startswith("Switch to EASE (run 2). EASE (run 2) raises")


def test_trade_off_when_a_guardrail_drops():
    c = _comparison("Better", _primary(0.10, 0.05, 0.15), [COVERAGE_DROP])
    d = c.decision
    assert d.kind == "trade_off"
    assert d.headline == (
        "Trade-off: EASE (run 2) wins on ranking quality (NDCG@10), loses on catalogue "
        "coverage (Coverage@10)"
    )
    assert (
        "Catalogue coverage (Coverage@10) falls 14.5% with EASE (run 2) (0.4 → 0.342), more "
        "than the 10% drop allowed."
    ) in d.reasons
    assert d.reasons[-1] == (
        "Switch to EASE (run 2) only if the gain in ranking quality (NDCG@10) is worth this "
        "loss; otherwise keep Popularity (run 1)."
    )


def test_trade_off_names_the_segment_that_loses_with_its_size():
    c = _comparison("Better", _primary(0.10, 0.05, 0.15), [COVERAGE_OK], [ESTABLISHED_LOSS])
    d = c.decision
    assert d.kind == "trade_off"
    assert d.headline.endswith(
        "loses on ranking quality (NDCG@10) for Established users (>5) "
        "(917 of 1,000 test users, 92%)"
    )
    assert (
        "Established users (>5) (917 of 1,000 test users, 92%) do reliably worse with "
        "EASE (run 2): ranking quality (NDCG@10) -5.0% (95% confidence range -8.0% to -2.0%)."
    ) in d.reasons


def test_segment_not_significant_after_correction_does_not_count():
    weak = _segment("Established users (>5)", 917, -0.05, -0.08, -0.02, p_bh=0.2)
    c = _comparison("Better", _primary(0.10, 0.05, 0.15), [COVERAGE_OK], [weak])
    assert reliable_segments(c, -1) == []
    assert c.decision.kind == "switch"


def test_keep_when_b_is_worse_and_says_who_still_gains():
    c = _comparison(
        "Worse", _primary(-0.08, -0.12, -0.04), [COVERAGE_OK], [NEW_GAIN, ESTABLISHED_LOSS]
    )
    d = c.decision
    assert d.kind == "keep"
    assert d.headline == "Keep Popularity (run 1)"
    assert d.reasons[0] == (
        "EASE (run 2) lowers ranking quality (NDCG@10) by 8.0% against Popularity (run 1) "
        "(95% confidence range -12.0% to -4.0%)."
    )
    assert d.reasons[1].startswith(
        "New users (≤5 interactions) (81 of 1,000 test users, 8%) do reliably better"
    )
    assert len(d.reasons) == 2  # segments that lose like the whole add nothing


def test_keep_when_b_shows_no_proven_gain_without_suggesting_to_wait():
    """The EASE → Two-tower pattern of the issue: unclear overall, coverage falls, most
    users reliably worse."""
    c = _comparison(
        "Inconclusive", _primary(-0.01, -0.04, 0.02, p=0.4), [COVERAGE_DROP], [ESTABLISHED_LOSS]
    )
    d = c.decision
    assert d.kind == "keep"
    assert d.reasons[0] == (
        "EASE (run 2) did not show the 1% gain that matters on ranking quality (NDCG@10): "
        "the change is -1.0% (95% confidence range -4.0% to +2.0%), and that range includes "
        "no change at all."
    )
    assert any(r.startswith("Catalogue coverage (Coverage@10) falls 14.5%") for r in d.reasons)
    assert any(r.startswith("Established users (>5) (917 of 1,000") for r in d.reasons)
    assert d.reasons[-1] == (
        "Without a proven gain, switching from Popularity (run 1) to EASE (run 2) is not justified."
    )
    text = (d.sentence + " " + d.detectable).lower()
    assert not any(word in text for word in FORBIDDEN)


def test_keep_when_a_real_gain_may_be_too_small():
    c = _comparison("Inconclusive", _primary(0.012, 0.004, 0.02, p=0.01))
    assert c.decision.kind == "keep"
    assert c.decision.reasons[0].endswith(
        "and the gain is real but could be below the 1% that matters."
    )


def test_no_difference_names_the_cheaper_run_and_how_it_was_judged():
    a = {**A, "reference": True, "fit_seconds": 0.5}
    b = {**B, "reference": False, "fit_seconds": 30.0}
    c = _comparison("Neutral", _primary(0.002, -0.006, 0.009, p=0.6), [COVERAGE_OK], a=a, b=b)
    d = c.decision
    assert d.kind == "no_difference"
    assert d.headline == "No meaningful difference — choose on cost: Popularity (run 1) is cheaper"
    assert d.reasons[0] == (
        "EASE (run 2) and Popularity (run 1) are within 1% of each other on ranking quality "
        "(NDCG@10): the change is +0.2% (95% confidence range -0.6% to +0.9%)."
    )
    assert d.reasons[1] == (
        "Popularity (run 1) trained in 0.5 s and EASE (run 2) in 30.0 s; Popularity (run 1) "
        "is a simple reference model, so Popularity (run 1) is cheaper to run (judged on "
        "training time and model type as recorded with each run)."
    )


def test_no_difference_without_recorded_cost_says_so():
    a = {**A, "fit_seconds": None}
    b = {**B, "fit_seconds": None}
    c = _comparison("Neutral", _primary(0.0, -0.005, 0.005, p=0.9), a=a, b=b)
    d = c.decision
    assert d.kind == "no_difference"
    assert d.headline == "No meaningful difference — choose on cost and simplicity"
    assert d.reasons[1].startswith(
        "The runs record no training time for Popularity (run 1) or EASE (run 2)"
    )


def test_no_difference_but_a_guardrail_drops_means_keep():
    c = _comparison("Neutral", _primary(0.002, -0.006, 0.009, p=0.6), [COVERAGE_DROP])
    assert c.decision.kind == "keep"
    assert c.decision.headline == "Keep Popularity (run 1)"


def test_decision_is_in_the_json_document():
    c = _comparison("Better", _primary(0.10, 0.05, 0.15), [COVERAGE_DROP])
    doc = json.loads(json.dumps(c.to_dict()))
    assert doc["decision"]["kind"] == "trade_off" and doc["decision"]["kind"] in KINDS
    assert doc["decision"]["sentence"] == c.decision.sentence
    assert doc["decision"]["reasons"] == list(c.decision.reasons)
    assert doc["decision"]["detectable"] == c.decision.detectable


def test_a_timing_wobble_does_not_make_a_run_cheaper():
    """Two trainings of the same model, 2.5 s and 2.4 s: neither is called cheaper (a
    re-run differs by that much); 0.5 s against 30 s is, and so is 4 s against 10 s."""
    from recsys_engine.compare.decision import clearly_cheaper

    a = {**A, "label": "Two-tower (run 3)", "reference": False, "fit_seconds": 2.5}
    b = {**B, "label": "Two-tower (run 4)", "reference": False, "fit_seconds": 2.4}
    d = _comparison("Neutral", _primary(0.0, 0.0, 0.0, p=1.0), a=a, b=b).decision
    assert d.kind == "no_difference"
    assert d.headline == "No meaningful difference — choose on cost and simplicity"
    assert d.reasons[1] == (
        "Two-tower (run 3) trained in 2.5 s and Two-tower (run 4) in 2.4 s (too close to "
        "call either cheaper: the same training varies that much from run to run): neither "
        "is clearly cheaper (judged on training time and model type as recorded with each run)."
    )
    assert clearly_cheaper(0.5, 30.0) and clearly_cheaper(10.0, 4.0)
    assert not clearly_cheaper(2.5, 2.4) and not clearly_cheaper(0.1, 0.9)
    assert not clearly_cheaper(20.0, 26.0)  # 1.3×: inside a shared machine's drift
