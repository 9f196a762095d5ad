"""Metric functions: hand-computed values and cross-checks against independent code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import average_precision_score, ndcg_score

from recsys_engine import metrics as m
from recsys_engine.errors import ConfigError
from recsys_engine.models.data import top_k

# user 0: hits at ranks 1 and 3 of 5, |T| = 3; user 1: no hit, |T| = 2;
# user 2: hits at ranks 1, 2 with |T| = 5 > K for the MAP normalisation check.
HITS = np.array(
    [
        [1, 0, 1, 0, 0],
        [0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
    ],
    dtype=bool,
)
N_REL = np.array([3, 2, 5])


def test_precision_recall_hitrate_by_hand():
    np.testing.assert_allclose(m.precision_at_k(HITS, 5), [2 / 5, 0, 2 / 5])
    np.testing.assert_allclose(m.precision_at_k(HITS, 3), [2 / 3, 0, 2 / 3])
    np.testing.assert_allclose(m.recall_at_k(HITS, N_REL, 5), [2 / 3, 0, 2 / 5])
    np.testing.assert_allclose(m.recall_at_k(HITS, N_REL, 1), [1 / 3, 0, 1 / 5])
    np.testing.assert_allclose(m.hit_rate_at_k(HITS, 5), [1, 0, 1])
    np.testing.assert_allclose(m.hit_rate_at_k(np.array([[0, 1]], dtype=bool), 1), [0])


def test_ndcg_by_hand():
    dcg0 = 1 / math.log2(2) + 1 / math.log2(4)
    idcg0 = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # min(5, 3) = 3 hits
    dcg2 = 1 + 1 / math.log2(3)
    idcg2 = sum(1 / math.log2(r + 1) for r in range(1, 6))  # min(5, 5) = 5
    np.testing.assert_allclose(m.ndcg_at_k(HITS, N_REL, 5), [dcg0 / idcg0, 0, dcg2 / idcg2])
    assert m.ndcg_at_k(HITS, N_REL, 5)[0] == pytest.approx(0.703918, abs=1e-6)
    # at K = 2, IDCG uses min(2, |T|) = 2 hits
    np.testing.assert_allclose(m.ndcg_at_k(HITS, N_REL, 2)[0], 1 / (1 + 1 / math.log2(3)))


def test_map_both_normalisations_by_hand():
    # user 0: (1/min(5,3)) * (1/1 + 2/3); user 2 at K=3: hits at 1, 2
    ap_min = m.average_precision_at_k(HITS, N_REL, 5, normalisation="min")
    np.testing.assert_allclose(ap_min, [(1 + 2 / 3) / 3, 0, (1 + 1) / 5])
    ap_min3 = m.average_precision_at_k(HITS, N_REL, 3, normalisation="min")
    ap_rel3 = m.average_precision_at_k(HITS, N_REL, 3, normalisation="relevant")
    assert ap_min3[2] == pytest.approx(2 / 3)  # ÷ min(K=3, |T|=5)
    assert ap_rel3[2] == pytest.approx(2 / 5)  # ÷ |T|
    assert ap_min3[0] == pytest.approx(ap_rel3[0])  # |T| = 3 = K: both agree
    # default is the DESIGN §5 definition
    np.testing.assert_allclose(m.average_precision_at_k(HITS, N_REL, 3), ap_min3)
    with pytest.raises(ConfigError, match="normalisation"):
        m.average_precision_at_k(HITS, N_REL, 3, normalisation="bogus")


def test_mrr_by_hand():
    hits = np.array([[0, 0, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=bool)
    np.testing.assert_allclose(m.reciprocal_rank_at_k(hits, 4), [1 / 3, 0, 1, 1 / 4])
    np.testing.assert_allclose(m.reciprocal_rank_at_k(hits, 3), [1 / 3, 0, 1, 0])


def test_empty_test_set_gives_zero_not_nan():
    hits = np.zeros((1, 3), dtype=bool)
    for values in (
        m.recall_at_k(hits, np.array([0]), 3),
        m.ndcg_at_k(hits, np.array([0]), 3),
        m.average_precision_at_k(hits, np.array([0]), 3),
    ):
        assert values.tolist() == [0.0]


def test_k_is_validated():
    with pytest.raises(ConfigError, match="k=6"):
        m.precision_at_k(HITS, 6)
    with pytest.raises(ConfigError, match="k must be"):
        m.precision_at_k(HITS, 0)


def test_hit_matrix():
    rel = sp.csr_matrix(np.array([[0, 1, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0]]))
    top = np.array([[3, 1, -1], [0, 5, 2]])
    assert m.hit_matrix(top, rel).tolist() == [[False, True, False], [True, False, False]]
    empty = sp.csr_matrix((2, 6))
    assert not m.hit_matrix(top, empty).any()


def test_list_metrics_by_hand():
    lists = np.array([[0, 1, 2], [1, 2, 3], [4, -1, -1]])
    assert m.coverage_at_k(lists, 10, 3) == pytest.approx(5 / 10)
    assert m.coverage_at_k(lists, 10, 1) == pytest.approx(3 / 10)
    pop = np.array([8, 4, 2, 1, 0, 0, 0, 0, 0, 0])
    n_users = 16
    nov = m.novelty_at_k(lists, pop, n_users, 3)
    assert nov[0] == pytest.approx((1 + 2 + 3) / 3)  # -log2(8/16), -log2(4/16), -log2(2/16)
    assert nov[1] == pytest.approx((2 + 3 + 4) / 3)
    assert nov[2] == pytest.approx(4)  # pop 0 counted as 1: -log2(1/16)
    np.testing.assert_allclose(m.arp_at_k(lists, pop, 3), [14 / 3, 7 / 3, 0])
    assert np.isnan(m.arp_at_k(np.array([[-1, -1]]), pop, 2)[0])


def test_ild_by_hand_dense_and_sparse():
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [1.0, 1.0]])
    lists = np.array([[0, 1, -1], [0, 2, -1], [0, 1, 3], [0, -1, -1]])
    c = 1 / math.sqrt(2)  # cos between [1,0] or [0,1] and [1,1]
    expected = [1.0, 0.0, ((1 - 0) + (1 - c) + (1 - c)) / 3]
    for vecs in (vectors, sp.csr_matrix(vectors)):
        ild = m.ild_at_k(lists, vecs, 3)
        np.testing.assert_allclose(ild[:3], expected)
        assert np.isnan(ild[3])


def test_personalization_by_hand():
    lists = np.array([[0, 1], [0, 2], [3, 4]])
    # Jaccard: {0,1}/{0,2} = 1/3, the other pairs 0 -> mean 1/9
    assert m.personalization_at_k(lists, 2) == pytest.approx(1 - 1 / 9)
    assert m.personalization_at_k(np.array([[0, 1], [0, 1]]), 2) == pytest.approx(0.0)
    assert m.personalization_at_k(np.array([[5, 6], [7, 8], [-1, -1]]), 2) == pytest.approx(1)


def test_personalization_sampling_is_seeded():
    rng = np.random.default_rng(3)
    lists = rng.integers(0, 30, size=(300, 5))
    exact = m.personalization_at_k(lists, 5, max_users=1000)
    a = m.personalization_at_k(lists, 5, max_users=100, seed=1)
    b = m.personalization_at_k(lists, 5, max_users=100, seed=1)
    assert a == b
    assert abs(a - exact) < 0.05


def test_rmse_mae_by_hand():
    assert m.rmse([1, 2, 3], [1, 3, 5]) == pytest.approx(math.sqrt(5 / 3))
    assert m.mae([1, 2, 3], [1, 3, 5]) == pytest.approx(1.0)
    with pytest.raises(ConfigError):
        m.rmse([1, 2], [1])


# -- cross-checks on random runs ---------------------------------------------------------
def _random_run(seed: int, n_users: int = 300, n_items: int = 60):
    rng = np.random.default_rng(seed)
    scores = rng.random((n_users, n_items))  # continuous: no ties
    truth = rng.random((n_users, n_items)) < rng.uniform(0.02, 0.3, size=(n_users, 1))
    truth[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # |T| >= 1
    return scores, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 5, 10, 20])
def test_ndcg_matches_sklearn(seed, k):
    scores, truth = _random_run(seed)
    items, _ = top_k(scores, k)
    hits = m.hit_matrix(items, sp.csr_matrix(truth))
    ours = m.ndcg_at_k(hits, truth.sum(axis=1), k)
    theirs = np.array(
        [ndcg_score(truth[u : u + 1], scores[u : u + 1], k=k) for u in range(len(truth))]
    )
    assert np.max(np.abs(ours - theirs)) < 1e-9
    assert abs(ours.mean() - ndcg_score(truth, scores, k=k)) < 1e-9


@pytest.mark.parametrize("seed", [0, 1])
def test_full_list_ap_matches_sklearn(seed):
    """With K = all items and ÷|T|, AP@K is sklearn's average precision."""
    scores, truth = _random_run(seed, n_items=40)
    k = truth.shape[1]
    items, _ = top_k(scores, k)
    hits = m.hit_matrix(items, sp.csr_matrix(truth))
    ours = m.average_precision_at_k(hits, truth.sum(axis=1), k, normalisation="relevant")
    theirs = np.array([average_precision_score(truth[u], scores[u]) for u in range(len(truth))])
    assert np.max(np.abs(ours - theirs)) < 1e-9


def _naive(scores: np.ndarray, truth: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Straightforward per-user loops written from the DESIGN §5 formulas."""
    out: dict[str, list[float]] = {n: [] for n in ("p", "r", "hr", "ap", "rr")}
    for s, t in zip(scores, truth, strict=True):
        ranked = sorted(range(len(s)), key=lambda i: -s[i])[:k]
        rel = [1 if t[i] else 0 for i in ranked]
        n_t = int(t.sum())
        out["p"].append(sum(rel) / k)
        out["r"].append(sum(rel) / n_t)
        out["hr"].append(1.0 if sum(rel) else 0.0)
        ap = sum(rel[r] * sum(rel[: r + 1]) / (r + 1) for r in range(k))
        out["ap"].append(ap / min(k, n_t))
        first = next((r for r, x in enumerate(rel) if x), None)
        out["rr"].append(0.0 if first is None else 1 / (first + 1))
    return {key: np.array(v) for key, v in out.items()}


@pytest.mark.parametrize("k", [3, 10])
def test_other_ranking_metrics_match_naive_loops(k):
    scores, truth = _random_run(7, n_users=120, n_items=30)
    items, _ = top_k(scores, k)
    hits = m.hit_matrix(items, sp.csr_matrix(truth))
    n_rel = truth.sum(axis=1)
    ref = _naive(scores, truth, k)
    got = m.ranking_metrics(hits, n_rel, (k,))
    for ours, theirs in (
        ("precision", "p"),
        ("recall", "r"),
        ("hitrate", "hr"),
        ("map", "ap"),
        ("mrr", "rr"),
    ):
        assert np.max(np.abs(got[(ours, k)] - ref[theirs])) < 1e-12, ours
