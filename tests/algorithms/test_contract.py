"""The contract every model shares, run against each, as the implicit library tests its own
models: known answers on a checkerboard, errors, persistence."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.sparse as sp

from recs.algorithms import registry as A
from recs.algorithms.base import RankedLists, topn_dense, topn_sparse

PERSONALISED = ["cosine", "bm25", "tfidf", "swing", "rp3beta", "ease", "als", "blend",
                "ensemble"]
ALL = sorted(A.MODELS)


def make(name: str) -> A.Recommender:
    if name == "swing":
        return A.create(name, neighbours=10, max_users_per_item=50)
    if name == "blend":
        return A.create(name, weight=0.3, discovery="cosine")
    if name in ("popularity", "repurchase"):
        return A.create(name)
    if name == "als":
        return A.create(name, factors=2, regularization=1.0)
    if name == "ensemble":
        return A.create(name, members=["rp3beta", "als"], member_params={
            "rp3beta": {"neighbours": 10}, "als": {"factors": 2, "regularization": 1.0}})
    return A.create(name, neighbours=10)


@pytest.mark.parametrize("name", PERSONALISED)
def test_recommends_within_the_users_group(name: str, board: sp.csr_matrix) -> None:
    model = make(name).fit(board, sessions=board)  # a session model fits on its rows
    users = np.arange(board.shape[0])
    ids, scores = model.recommend(users, board, N=5)
    assert ids.shape == scores.shape == (board.shape[0], 5)
    for user in users:
        got = ids[user][ids[user] >= 0]
        assert got.size > 0, f"{name}: nothing for user {user}"
        assert np.all(got % 2 == user % 2), f"{name}: user {user} got {got}"
        assert not set(got) & set(board[user].indices), "liked items must be filtered"


@pytest.mark.parametrize("name", PERSONALISED)
def test_similar_items_stay_in_the_group(name: str, board: sp.csr_matrix) -> None:
    model = make(name).fit(board, sessions=board)  # a session model fits on its rows
    items = np.arange(board.shape[1])
    ids, _ = model.similar_items(items, N=4)
    for item in items:
        got = ids[item][ids[item] >= 0]
        assert got.size > 0
        assert item not in got
        assert np.all(got % 2 == item % 2)


@pytest.mark.parametrize("name", ALL)
def test_scalar_user_gives_1d(name: str, board: sp.csr_matrix) -> None:
    model = make(name).fit(board, sessions=board)  # a session model fits on its rows
    ids, scores = model.recommend(3, board[3], N=4, filter_already_liked_items=False)
    assert ids.shape == (4,) and scores.shape == (4,)
    item_ids, _ = model.similar_items(2, N=3)
    assert item_ids.shape == (3,)


@pytest.mark.parametrize("name", ALL)
def test_save_load_round_trip(name: str, board: sp.csr_matrix, tmp_path) -> None:
    model = make(name).fit(board, sessions=board)  # a session model fits on its rows
    users = np.arange(board.shape[0])
    before = model.recommend(users, board, N=6, filter_already_liked_items=False)
    path = tmp_path / "model.npz"
    model.save(path)
    for loaded in (A.load_any(str(path)), type(model).load(model.to_bytes()),
                   A.load_any(io.BytesIO(model.to_bytes()))):
        after = loaded.recommend(users, board, N=6, filter_already_liked_items=False)
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_allclose(before[1], after[1])
        assert loaded.get_params() == model.get_params()


def test_load_refuses_another_class(board: sp.csr_matrix) -> None:
    data = make("cosine").fit(board).to_bytes()
    with pytest.raises(A.RecommenderError, match="holds a 'cosine' model, not a BM25Rec"):
        A.BM25Recommender.load(data)


def test_saved_file_has_no_pickles(board: sp.csr_matrix) -> None:
    data = make("blend").fit(board).to_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        assert all(f[key].dtype != object for key in f.files)


@pytest.mark.parametrize("name", ALL)
def test_explicit_errors(name: str, board: sp.csr_matrix) -> None:
    model = make(name)
    with pytest.raises(A.NotFittedError):
        model.recommend(np.arange(2), board[:2])
    with pytest.raises(A.RecommenderError, match="scipy sparse"):
        model.fit(board.toarray())
    bad = board.copy()
    bad.data[0] = np.nan
    with pytest.raises(A.NaNError, match="NaN"):
        model.fit(bad)
    model.fit(board, sessions=board)
    with pytest.raises(A.RecommenderError, match="item columns"):
        model.recommend(np.arange(2), sp.csr_matrix((2, board.shape[1] + 1)))
    with pytest.raises(A.RecommenderError, match="rows but 3 userids"):
        model.recommend(np.arange(3), board[:2])
    with pytest.raises(A.NaNError):
        model.recommend(np.arange(2), bad[:2])
    with pytest.raises(A.RecommenderError, match="itemids"):
        model.similar_items(board.shape[1])


def test_unknown_algorithm_and_parameter() -> None:
    with pytest.raises(A.RecommenderError, match="unknown algorithm"):
        A.create("nope")
    with pytest.raises(A.RecommenderError, match="cosine"):
        A.create("cosine", bogus=1)


def test_popularity_known_answer() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]], np.float32))
    model = A.PopularityRecommender().fit(x)
    ids, scores = model.recommend(np.array([0]), x[[0]], N=3, filter_already_liked_items=False)
    assert ids[0].tolist() == [0, 2, 1]
    assert scores[0].tolist() == [3.0, 2.0, 1.0]
    ids, _ = model.recommend(np.array([0]), x[[0]], N=3)  # 0 and 1 liked
    assert ids[0].tolist() == [2, -1, -1]


def test_repurchase_ranks_history_by_weight() -> None:
    x = sp.csr_matrix(np.array([[0.5, 3.0, 0, 1.0]], np.float32))
    model = A.RepurchaseRecommender().fit(x)
    ids, _ = model.recommend(0, x, N=4, filter_already_liked_items=False)
    assert ids.tolist() == [1, 3, 0, -1]
    assert model.contributors(x, np.array([0, 0]), np.array([1, 3])).tolist() == [1, 3]


def test_blend_weight_moves_between_history_and_discovery(board: sp.csr_matrix) -> None:
    user = board[[0]]
    repeat = A.BlendRecommender(weight=0.99).fit(board)
    ids, _ = repeat.recommend(0, user, N=3, filter_already_liked_items=False)
    assert set(ids.tolist()) <= set(user.indices.tolist())
    discover = A.BlendRecommender(weight=0.0).fit(board)
    ids, _ = discover.recommend(0, user, N=3, filter_already_liked_items=False)
    assert not set(ids.tolist()) & set(user.indices.tolist())
    with pytest.raises(A.RecommenderError, match="item_weight"):
        A.BlendRecommender().fit(board, item_weight=np.ones(3))


def test_blend_per_item_weights(board: sp.csr_matrix) -> None:
    # Repeats allowed only for items 0-9: history items 10+ never come back.
    w = np.where(np.arange(board.shape[1]) < 10, 0.99, 0.0)
    model = A.BlendRecommender(weight=0.5).fit(board, item_weight=w)
    lists = model.rank(board, 10, filter_already_liked_items=False)
    rows = np.repeat(np.arange(board.shape[0]), np.diff(lists.indptr))
    owned = np.asarray(board[rows, lists.items]).ravel() > 0
    assert owned.any()
    assert np.all(lists.items[owned] < 10)


def test_topn_helpers_agree_on_ties() -> None:
    m = sp.csr_matrix(np.array([[1, 3, 3, 0, 2], [0, 0, 0, 0, 0], [5, 5, 5, 5, 5]], np.float32))
    lists = topn_sparse(m, 2)
    assert isinstance(lists, RankedLists)
    assert lists.items.tolist() == [1, 2, 0, 1]
    dense = np.where(m.toarray() > 0, m.toarray(), -np.inf)
    d = topn_dense(dense, 2)
    assert d.items.tolist() == [1, 2, 0, 1]
    assert d.indptr.tolist() == lists.indptr.tolist() == [0, 2, 2, 4]


def test_ease_solves_the_head_and_falls_back_to_rp3beta_for_the_tail(board: sp.csr_matrix) -> None:
    full = A.create("ease", neighbours=10, l2=10.0).fit(board)
    head = A.create("ease", neighbours=10, l2=10.0, max_items=6).fit(board)
    # Every item still has neighbours (tail rows from RP3beta), all within its group.
    for model in (full, head):
        sim = model.similarity
        assert np.all(np.diff(sim.indptr) > 0)
        rows = np.repeat(np.arange(sim.shape[0]), np.diff(sim.indptr))
        assert np.all(rows % 2 == sim.indices % 2) and np.all(sim.data > 0)
        assert np.all(rows != sim.indices)
    loaded = A.load_any(head.to_bytes())
    ids, _ = loaded.recommend(np.arange(4), board[:4], N=3)
    expected, _ = head.recommend(np.arange(4), board[:4], N=3)
    np.testing.assert_array_equal(ids, expected)
