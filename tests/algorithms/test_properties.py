"""Property tests: any input, the contract holds."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recs.algorithms import registry as A
from recs.algorithms.base import sort_entries, topk_mask, topn_sparse
from recs.algorithms.knn import bm25_weight, cosine, product, topk_per_row
from recs.algorithms.swing import swing

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def matrices(draw: st.DrawFn, max_users: int = 12, max_items: int = 10) -> sp.csr_matrix:
    n_users = draw(st.integers(1, max_users))
    n_items = draw(st.integers(2, max_items))
    mask = draw(st.lists(st.booleans(), min_size=n_users * n_items,
                         max_size=n_users * n_items))
    values = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0]),
                           min_size=n_users * n_items, max_size=n_users * n_items))
    dense = np.where(np.array(mask).reshape(n_users, n_items),
                     np.array(values, np.float32).reshape(n_users, n_items), 0)
    return sp.csr_matrix(dense.astype(np.float32))


NAMES = st.sampled_from(sorted(A.MODELS))


def build(name: str) -> A.Recommender:
    if name in ("popularity", "repurchase"):
        return A.create(name)
    if name == "blend":
        return A.create(name, weight=0.4, discovery="cosine", popularity=0.2,
                        discovery_params={"neighbours": 5})
    if name == "als":
        return A.create(name, factors=4, iterations=3)
    if name == "ensemble":
        return A.create("cosine+als", weights=[0.7, 0.3], member_params={
            "cosine": {"neighbours": 5}, "als": {"factors": 4, "iterations": 3}})
    return A.create(name, neighbours=5)


@SETTINGS
@given(x=matrices(), name=NAMES, n=st.integers(1, 8), filt=st.booleans(),
       extra=st.lists(st.integers(0, 1), max_size=2))
def test_scores_sorted_and_filters_respected(x, name, n, filt, extra) -> None:
    model = build(name).fit(x, sessions=x)  # a session model fits on these rows
    users = np.arange(x.shape[0])
    filter_items = np.array(extra, dtype=np.int64)
    ids, scores = model.recommend(users, x, N=n, filter_already_liked_items=filt,
                                  filter_items=filter_items)
    assert ids.shape == (x.shape[0], n)
    for u in users:
        valid = ids[u] >= 0
        # padding only at the end, scores non-increasing, -inf for padding
        assert np.all(valid[:valid.sum()])
        assert np.all(np.diff(scores[u][valid]) <= 1e-6)
        assert np.all(np.isneginf(scores[u][~valid]))
        got = ids[u][valid]
        assert len(set(got.tolist())) == got.size
        assert not set(got.tolist()) & set(filter_items.tolist())
        if filt:
            assert not set(got.tolist()) & set(x[u].indices.tolist())


@SETTINGS
@given(x=matrices(), shrink=st.sampled_from([0.0, 1.0, 10.0]))
def test_cosine_is_symmetric(x, shrink) -> None:
    model = A.CosineRecommender(neighbours=x.shape[1], shrinkage=shrink).fit(x)
    sim = model.similarity.toarray()
    np.testing.assert_allclose(sim, sim.T, rtol=1e-5, atol=1e-6)
    ids, scores = model.similar_items(np.arange(x.shape[1]), N=x.shape[1])
    for i in range(x.shape[1]):
        for j, s in zip(ids[i], scores[i], strict=True):
            if j >= 0:
                assert abs(s - sim[j, i]) < 1e-5


@SETTINGS
@given(x=matrices(), name=NAMES)
def test_save_load_equal(x, name) -> None:
    model = build(name).fit(x, sessions=x)  # a session model fits on these rows
    loaded = A.load_any(model.to_bytes())
    users = np.arange(x.shape[0])
    a = model.recommend(users, x, N=4, filter_already_liked_items=False)
    b = loaded.recommend(users, x, N=4, filter_already_liked_items=False)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@SETTINGS
@given(x=matrices(max_users=15, max_items=15), k=st.integers(1, 6))
def test_topk_matches_brute_force(x, k) -> None:
    dense = x.toarray()
    lists = topn_sparse(x, k)
    for r in range(dense.shape[0]):
        nz = np.flatnonzero(dense[r])
        expected = sorted(nz.tolist(), key=lambda c: (-dense[r, c], c))[:k]
        assert lists.items[lists.indptr[r]:lists.indptr[r + 1]].tolist() == expected
    kept = topk_per_row(x, k)
    assert np.all(np.diff(kept.indptr) <= k)


FLOATS = st.one_of(st.floats(width=32, allow_nan=False, allow_infinity=False),
                   st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-45, -1e-45]))


@SETTINGS
@given(entries=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3_000_000), FLOATS),
                        max_size=60),
       rows=st.integers(41, 5000))
def test_sorted_entries_are_in_lexsorts_order(entries, rows) -> None:
    """Row, then value descending, then column: the one-key sort and lexsort agree, ties and
    signed zeros included (one key holds up to about two million columns, more go to lexsort)."""
    row = np.array([e[0] for e in entries], np.int64)
    cols = np.array([e[1] for e in entries], np.int32)
    data = np.array([e[2] for e in entries], np.float32)
    for n_cols in (3_000_001, 1 << 20):
        inside = cols < n_cols
        r, c, d = row[inside], cols[inside], data[inside]
        order = np.lexsort((c, -d, r))
        got = sort_entries(r, c, d, (rows, n_cols))
        assert got[0].tolist() == r[order].tolist()
        assert got[1].tolist() == c[order].tolist()
        assert got[2].tolist() == d[order].tolist()  # -0.0 == 0.0


@SETTINGS
@given(left=matrices(max_users=12, max_items=9), right=matrices(max_users=9, max_items=12))
def test_product_is_scipys_product_entry_for_entry(left, right) -> None:
    """The same entries in the same (unsorted) order and the same values as scipy's ``@``."""
    right = sp.csr_matrix(right[:left.shape[1]]) if right.shape[0] >= left.shape[1] else (
        sp.csr_matrix(sp.vstack([right, sp.csr_matrix((left.shape[1] - right.shape[0],
                                                       right.shape[1]), dtype=np.float32)])))
    got, expected = product(left, right), sp.csr_matrix(left @ right, dtype=np.float32)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert got.indptr.tolist() == expected.indptr.tolist()
    assert got.indices.tolist() == expected.indices.tolist()
    assert got.data.tolist() == expected.data.tolist()


@SETTINGS
@given(x=matrices(max_users=10, max_items=9), seed=st.integers(0, 99),
       popularity=st.sampled_from([0.0, 0.3]), outside=st.booleans())
def test_the_blend_masks_its_parts_as_the_whole_block(x, seed, popularity, outside) -> None:
    """Taking a mask out of the blend's repeat part gives the scores taking it out of the
    whole block gives, whether the mask lies in the history (bought items, the history
    itself) or not, with repeat weights of 0 among the items."""
    from recs.algorithms.base import _mask_out

    rng = np.random.default_rng(seed)
    model = A.create("blend", weight=0.5, discovery="cosine", popularity=popularity,
                     discovery_params={"neighbours": 3})
    model.fit(x, item_weight=rng.choice([0.0, 0.4, 1.0], x.shape[1]).astype(np.float32))
    history = x.astype(bool).toarray()
    chosen = rng.random(x.shape) < 0.5
    mask = sp.csr_matrix((chosen if outside else chosen & history).astype(np.float32))
    expected = _mask_out(model._score(x, 5), mask, None).toarray()
    assert np.array_equal(model._masked_score(x, 5, mask, None).toarray(), expected)


@SETTINGS
@given(x=matrices(max_users=15, max_items=15), k=st.integers(1, 6), seed=st.integers(0, 99))
def test_top_k_breaks_ties_by_column_whatever_the_index_order(x, k, seed) -> None:
    """A sparse product's indices come unsorted; the kept set must not depend on their order."""
    shuffled = x.copy()
    rng = np.random.default_rng(seed)
    for r in range(x.shape[0]):
        span = slice(x.indptr[r], x.indptr[r + 1])
        order = rng.permutation(x.indptr[r + 1] - x.indptr[r])
        shuffled.indices[span] = x.indices[span][order]
        shuffled.data[span] = x.data[span][order]
    shuffled.has_sorted_indices = False

    def kept(m: sp.csr_matrix) -> set[tuple[int, int]]:
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        mask = topk_mask(m, k)
        return set(zip(rows[mask].tolist(), m.indices[mask].tolist(), strict=True))

    dense = x.toarray()
    best = [sorted(np.flatnonzero(dense[r]).tolist(), key=lambda c, r=r: (-dense[r, c], c))[:k]
            for r in range(dense.shape[0])]
    expected = {(r, c) for r, cols in enumerate(best) for c in cols}
    assert kept(x) == expected
    assert kept(shuffled) == expected
    lists = topn_sparse(shuffled, k)  # and ranked in the same order as from sorted indices
    assert [lists.items[lists.indptr[r]:lists.indptr[r + 1]].tolist()
            for r in range(dense.shape[0])] == best


@SETTINGS
@given(x=matrices(max_users=8, max_items=7))
def test_cosine_matches_formula(x) -> None:
    d = x.toarray().astype(np.float64)
    norms = np.sqrt((d * d).sum(axis=0))
    expected = (d.T @ d) / (np.outer(norms, norms) + 2.0)
    np.fill_diagonal(expected, 0)
    got = cosine(x, neighbours=x.shape[1], shrinkage=2.0).toarray()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


@SETTINGS
@given(x=matrices(max_users=8, max_items=6))
def test_swing_matches_definition(x) -> None:
    b = (x.toarray() > 0)
    n_users, n_items = b.shape
    w = (b.sum(axis=1) + 5.0) ** -0.35
    expected = np.zeros((n_items, n_items))
    for u in range(n_users):
        for v in range(u + 1, n_users):
            shared = b[u] & b[v]
            overlap = shared.sum()
            if overlap < 2:
                continue
            idx = np.flatnonzero(shared)
            for i in idx:
                for j in idx:
                    if i != j:
                        expected[i, j] += w[u] * w[v] / (1.0 + overlap)
    got = swing(x, neighbours=n_items, max_users_per_item=100).toarray()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)


def test_bm25_weight_matches_implicit_formula() -> None:
    x = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 1], [4, 1, 0], [0, 0, 1]], np.float64))
    got = bm25_weight(x, k1=1.2, b=0.75).toarray()
    n = x.shape[0]
    idf = np.log(n) - np.log1p((x.toarray() > 0).sum(axis=0))
    lengths = x.toarray().sum(axis=1)
    norm = 0.25 + 0.75 * lengths / lengths.mean()
    d = x.toarray()
    expected = np.where(d > 0, d * 2.2 / (1.2 * norm[:, None] + d) * idf[None, :], 0)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=9),
       st.integers(min_value=0, max_value=2**31 - 1))
def test_row_argmax_matches_scipy_on_non_negative_matrices(n_rows: int, n_cols: int,
                                                           seed: int) -> None:
    from recs.algorithms.base import row_argmax

    rng = np.random.default_rng(seed)
    dense = rng.integers(0, 4, size=(n_rows, n_cols)).astype(np.float32)
    dense[rng.random(dense.shape) < 0.5] = 0
    matrix = sp.csr_matrix(dense)
    columns, values = row_argmax(matrix)
    assert np.array_equal(values, dense.max(axis=1))
    stored = np.diff(matrix.indptr) > 0
    expected = np.asarray(matrix.argmax(axis=1)).ravel()
    assert np.array_equal(columns[stored], expected[stored])
