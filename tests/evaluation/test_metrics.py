"""Metric known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recs.batch.evaluation import metrics


def rel(rows: list[list[int]], n_items: int = 10) -> sp.csr_matrix:
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [j for row in rows for j in row]
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_items))


def test_perfect_ranking_scores_one() -> None:
    relevant = rel([[3, 5], [1]])
    ranked = np.array([[5, 3, 0, 1], [1, 2, 3, 4]])
    m = metrics.per_user(ranked, relevant, np.array([2, 1]), k=4)
    for name in metrics.METRICS:
        assert m[name].tolist() == pytest.approx([1.0, 1.0]), name


def test_no_hit_scores_zero_and_empty_users_are_nan() -> None:
    m = metrics.per_user(np.array([[0, 1], [0, 1]]), rel([[5], []]), np.array([1, 0]), k=2)
    assert m["ndcg"][0] == 0 and m["hit_rate"][0] == 0
    assert np.isnan(m["ndcg"][1])


def test_known_values() -> None:
    # relevant {1, 4, 9}; list [1, 2, 4] -> hits at ranks 1 and 3
    m = metrics.per_user(np.array([[1, 2, 4]]), rel([[1, 4, 9]]), np.array([3]), k=3)
    dcg = 1 + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert m["ndcg"][0] == pytest.approx(dcg / idcg)
    assert m["recall"][0] == pytest.approx(2 / 3)
    assert m["map"][0] == pytest.approx((1 + 2 / 3) / 3)
    assert m["hit_rate"][0] == 1


def test_unknown_relevant_items_count_in_the_denominator() -> None:
    m = metrics.per_user(np.array([[1, -1]]), rel([[1]]), np.array([2]), k=2)
    assert m["recall"][0] == pytest.approx(0.5)


def test_padding_and_coverage() -> None:
    ranked = np.array([[1, -1, -1], [1, 2, -1]])
    assert metrics.coverage(ranked, 10, 3) == pytest.approx(0.2)
    m = metrics.per_user(ranked[:, :1], rel([[1], [2]]), np.array([1, 1]), k=3)
    assert m["hit_rate"].tolist() == [1.0, 0.0]


def test_confidence_interval_and_paired() -> None:
    e = metrics.estimate(np.array([0.0, 1.0] * 50))
    assert e.mean == pytest.approx(0.5) and e.low < 0.5 < e.high and e.n == 100
    assert (e.high - e.low) / 2 == pytest.approx(1.96 * 0.5025 / 10, rel=0.01)
    a = np.array([0.5, 0.6, 0.7, 0.8, np.nan])
    p = metrics.paired(a, a - 0.1)
    assert p.mean == pytest.approx(0.1) and p.n == 4 and p.verdict == "better"
    assert metrics.paired(a, a).verdict == "no significant difference"
    assert metrics.estimate(np.array([])).n == 0
