"""Session kNN: known answers on three tiny sessions, and the formula on any input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recs.algorithms import registry as A
from recs.algorithms.base import RecommenderError
from recs.algorithms.sknn import SessionKNNRecommender, position_weights
from tests.algorithms.test_properties import matrices

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Sessions: {0, 1}, {1, 2}, {3, 4}; the last one older (weight 0.5 against 2.0).
SESSIONS = sp.csr_matrix(np.array([[2, 2, 0, 0, 0],
                                   [0, 2, 2, 0, 0],
                                   [0, 0, 0, 0.5, 0.5]], np.float32))


def scores(model: SessionKNNRecommender, query: list[float]) -> np.ndarray:
    q = sp.csr_matrix(np.array([query], np.float32))
    return np.asarray(model._score(q, 5).todense()).ravel()


def test_a_session_of_one_item_scores_the_sessions_that_hold_it() -> None:
    model = A.create("sknn", neighbours=2, recency=0.0).fit(SESSIONS)
    # cos({1}, {0, 1}) = cos({1}, {1, 2}) = 1/sqrt(2); {3, 4} shares nothing.
    half = 1 / np.sqrt(2)
    np.testing.assert_allclose(scores(model, [0, 1, 0, 0, 0]), [half, 2 * half, half, 0, 0],
                               rtol=1e-6)
    ids, _ = model.recommend(0, sp.csr_matrix(np.array([[0, 1, 0, 0, 0]], np.float32)), N=2)
    assert sorted(ids.tolist()) == [0, 2]  # the item itself is filtered


def test_only_the_nearest_sessions_count() -> None:
    model = A.create("sknn", neighbours=1, recency=0.0).fit(SESSIONS)
    # Query {0, 1} equals session 0 (cos 1) and half-matches session 1 (cos 1/2).
    np.testing.assert_allclose(scores(model, [1, 1, 0, 0, 0]), [1, 1, 0, 0, 0], rtol=1e-6)


def test_beta_divides_out_popularity() -> None:
    model = A.create("sknn", neighbours=2, beta=1.0, recency=0.0).fit(SESSIONS)
    half = 1 / np.sqrt(2)
    # Item 1 is in two sessions: its score 2 * half is divided by 2.
    np.testing.assert_allclose(scores(model, [0, 1, 0, 0, 0]), [half, half, half, 0, 0],
                               rtol=1e-6)


def test_recency_weighs_an_old_session_down() -> None:
    old_and_new = sp.csr_matrix(np.array([[2, 2, 0], [0, 0.5, 0.5]], np.float32))
    fresh = A.create("sknn", neighbours=2, recency=1.0).fit(old_and_new)
    flat = A.create("sknn", neighbours=2, recency=0.0).fit(old_and_new)
    # Item 0 comes from the recent session, item 2 from the old one (a quarter of its weight).
    s = scores(fresh, [0, 1, 0])
    assert s[2] == pytest.approx(s[0] * 0.25)
    s = scores(flat, [0, 1, 0])
    assert s[2] == pytest.approx(s[0])


def test_position_weights_fall_geometrically_towards_the_oldest() -> None:
    np.testing.assert_allclose(position_weights(3, 0.5), [0.25, 0.5, 1.0])
    np.testing.assert_allclose(position_weights(2, 1.0), [1.0, 1.0])
    with pytest.raises(RecommenderError):
        position_weights(2, 0.0)


def test_bad_parameters_are_refused() -> None:
    for bad in ({"neighbours": 0}, {"beta": -1.0}, {"recency": -0.5}):
        with pytest.raises(RecommenderError):
            A.create("sknn", **bad)


def brute_force(rows: np.ndarray, query: np.ndarray, k: int, beta: float,
                recency: float) -> tuple[np.ndarray, np.ndarray]:
    """The scores by the definition, and for each query whether its k-th and next nearest
    session are (nearly) tied, when rounding may pick either."""
    binary = (rows > 0).astype(np.float64)
    peak = rows.max(axis=1)
    weight = peak / peak.max() if peak.max() > 0 else peak
    out = np.zeros((query.shape[0], rows.shape[1]))
    tied = np.zeros(query.shape[0], dtype=bool)
    for r, q in enumerate(query):
        qn = np.linalg.norm(q)
        sims = []
        for s, row in enumerate(binary):
            rn = np.linalg.norm(row)
            cos = (q @ row) / (qn * rn) if qn > 0 and rn > 0 else 0.0
            sims.append((cos * weight[s] ** recency, s))
        ranked = sorted([x for x in sims if x[0] > 0], key=lambda x: (-x[0], x[1]))
        tied[r] = len(ranked) > k and ranked[k - 1][0] - ranked[k][0] < 1e-5
        for sim, s in ranked[:k]:
            out[r] += sim * binary[s]
    popularity = np.maximum(binary.sum(axis=0), 1.0)
    return out / popularity ** beta, tied


@SETTINGS
@given(rows=matrices(), queries=matrices(max_users=4), k=st.integers(1, 6),
       beta=st.sampled_from([0.0, 0.5, 1.0]), recency=st.sampled_from([0.0, 1.0]))
def test_scores_match_the_definition(rows, queries, k, beta, recency) -> None:
    n_items = min(rows.shape[1], queries.shape[1])
    rows, queries = sp.csr_matrix(rows[:, :n_items]), sp.csr_matrix(queries[:, :n_items])
    if rows.nnz == 0:
        return
    model = A.create("sknn", neighbours=k, beta=beta, recency=recency).fit(rows)
    got = np.asarray(model._score(queries, n_items).todense())
    want, tied = brute_force(rows.toarray(), queries.toarray(), k, beta, recency)
    np.testing.assert_allclose(got[~tied], want[~tied], rtol=1e-4, atol=1e-5)
