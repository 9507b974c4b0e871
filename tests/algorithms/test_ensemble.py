"""The ensemble: a weighted sum of its members' per-user normalised scores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from recs.algorithms import registry as A
from recs.batch.config import BatchConfig
from recs.batch.training import algorithm_params
from recs.exceptions import ConfigError


def normalised(scores: np.ndarray | sp.spmatrix) -> np.ndarray:
    dense = scores.toarray() if sp.issparse(scores) else np.asarray(scores, dtype=np.float64)
    dense = np.where(np.isfinite(dense) & (dense > 0), dense, 0.0)
    top = dense.max(axis=1, keepdims=True)
    return np.divide(dense, top, out=np.zeros_like(dense), where=top > 0)


def test_scores_are_the_weighted_sum_of_normalised_member_scores(board: sp.csr_matrix) -> None:
    ensemble = A.create("cosine+rp3beta", weights=[3.0, 1.0], member_params={
        "cosine": {"neighbours": 10}, "rp3beta": {"neighbours": 10}}).fit(board)
    cosine = A.create("cosine", neighbours=10).fit(board)
    rp3 = A.create("rp3beta", neighbours=10).fit(board)
    rows = board[:4]
    expected = 0.75 * normalised(cosine._score(rows, 10)) + 0.25 * normalised(
        rp3._score(rows, 10))
    got = ensemble._score(rows, 10)
    np.testing.assert_allclose(np.where(np.isfinite(got), got, 0.0), expected, rtol=1e-5)
    assert ensemble.weights == [0.75, 0.25]  # weights are shares


def test_an_item_both_members_like_beats_one_only_one_likes() -> None:
    # Items 0 and 1 co-occur for everyone (the neighbourhood model's pick for a user holding
    # item 0); the factor model, from the same data, also rates item 1 highest. Item 2 is a
    # weaker co-occurrence. Summing both members keeps item 1 on top.
    x = sp.csr_matrix(np.array([
        [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 1, 0, 0],
    ], dtype=np.float32))
    model = A.create("rp3beta+als", member_params={
        "rp3beta": {"neighbours": 3}, "als": {"factors": 2, "regularization": 0.1}}).fit(x)
    user = sp.csr_matrix(np.array([[1, 0, 0, 0]], dtype=np.float32))
    ids, scores = model.recommend(0, user, N=3)
    assert ids[0] == 1
    assert 0.9 < scores[0] <= 1.0  # near the top of both members' normalised scores
    ranked = ids[ids >= 0].tolist()
    assert 3 not in ranked or ranked.index(3) > ranked.index(2)  # the other cluster last


def test_reasons_and_similar_items_come_from_the_neighbourhood_member(
        board: sp.csr_matrix) -> None:
    model = A.create("als+cosine", member_params={
        "als": {"factors": 2, "regularization": 1.0}, "cosine": {"neighbours": 10}}).fit(board)
    cosine = A.create("cosine", neighbours=10).fit(board)
    assert (model.similarity != cosine.similarity).nnz == 0
    rows = np.array([0, 1])
    items = np.array([2, 3])
    np.testing.assert_array_equal(model.contributors(board, rows, items),
                                  cosine.contributors(board, rows, items))
    np.testing.assert_array_equal(model.similar_items(np.arange(4), N=3)[0],
                                  cosine.similar_items(np.arange(4), N=3)[0])


def test_save_and_load_round_trip_keeps_every_member(board: sp.csr_matrix) -> None:
    model = A.create("rp3beta+als", weights=[0.3, 0.7], member_params={
        "rp3beta": {"neighbours": 10}, "als": {"factors": 2}}).fit(board)
    loaded = A.load_any(model.to_bytes())
    assert isinstance(loaded, A.EnsembleRecommender)
    assert loaded.get_params() == model.get_params()
    users = np.arange(board.shape[0])
    np.testing.assert_array_equal(loaded.recommend(users, board, N=5)[0],
                                  model.recommend(users, board, N=5)[0])


@pytest.mark.parametrize(("name", "params", "message"), [
    ("ensemble", {"members": ["als"]}, "two or more distinct"),
    ("als+als", {}, "two or more distinct"),
    ("blend+als", {}, "single models"),
    ("rp3beta+als", {"weights": [1.0]}, "weights must be 2"),
    ("rp3beta+als", {"weights": [1.0, -1.0]}, "non-negative"),
    ("rp3beta+als", {"member_params": {"cosine": {}}}, "not in the ensemble"),
    ("rp3beta+als", {"members": ["als", "rp3beta"]}, "contradict the name"),
    ("rp3beta+nope", {}, "unknown algorithm 'nope'"),
])
def test_bad_ensembles_are_refused_with_the_reason(name: str, params: dict,
                                                   message: str) -> None:
    with pytest.raises(A.RecommenderError, match=message):
        A.create(name, **params)


def test_config_names_an_ensemble_discovery_and_its_mix() -> None:
    config = BatchConfig.from_env({"RECS_DISCOVERY": "rp3beta+als",
                                   "RECS_ENSEMBLE_WEIGHT": "0.7"})
    params = algorithm_params(config)
    assert params["discovery"] == "rp3beta+als"
    inner = params["discovery_params"]
    assert isinstance(inner, dict)
    assert inner["weights"] == [0.7, pytest.approx(0.3)]
    assert set(inner["member_params"]) == {"rp3beta", "als"}
    model = A.create("blend", **params)
    assert isinstance(model, A.BlendRecommender)
    assert isinstance(model.discovery, A.EnsembleRecommender)


@pytest.mark.parametrize("value", ["rp3beta+nope", "als+als", "blend+als"])
def test_config_refuses_a_bad_ensemble_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="RECS_DISCOVERY"):
        BatchConfig.from_env({"RECS_DISCOVERY": value})
    with pytest.raises(ConfigError, match="RECS_ENSEMBLE_WEIGHT"):
        dataclasses.replace(BatchConfig(), ensemble_weight=1.5)
