"""The compiled similarity kernel gives the numpy path's neighbours, bit for bit.

``recs.algorithms.knn.blocked_topk_product`` (every neighbourhood model's fit, the content and
cold-item neighbours) runs ``recs/algorithms/kernels/similarity.c`` when it is built, and numpy
and scipy otherwise (``RECS_KERNELS=off``, a machine without a compiler). A model must not
depend on which ran: these tests compute the same similarities both ways and compare indices
and float32 bits, on matrices with what breaks a careless kernel: ties at the cut, empty rows
and columns, negative weights whose products cancel to exactly zero, unsorted indices (the
products' order decides the float sums' rounding), ``k`` past a row's length, and blocks of
rows on several threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recs.algorithms import knn
from recs.algorithms.kernels import similarity as kernel
from recs.algorithms.kernels.similarity import Rescale
from recs.algorithms.knn import RP3BetaRecommender, blocked_topk_product, cosine

pytestmark = pytest.mark.skipif(
    not kernel.available(),
    reason="the kernels are not built (make kernels; a C compiler is needed)")

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
VALUES = [-1.5, -1.0, 0.5, 1.0, 1.0, 2.0, 3.0, 0.1, 1 / 3, 7.25]


@st.composite
def matrices(draw: st.DrawFn, n_rows: int | None = None,
             n_cols: int | None = None) -> sp.csr_matrix:
    """A float32 CSR matrix, each row's indices in a drawn order (not necessarily sorted),
    with values from a small set (ties) or any float32 in a range (rounding)."""
    rows = n_rows if n_rows is not None else draw(st.integers(0, 12))
    cols = n_cols if n_cols is not None else draw(st.integers(1, 12))
    value = st.sampled_from(VALUES) | st.floats(-4, 4, width=32, allow_nan=False)
    indptr, indices, data = [0], [], []
    for _ in range(rows):
        present = draw(st.lists(st.integers(0, cols - 1), unique=True, max_size=cols))
        indices += present
        data += [draw(value) for _ in present]
        indptr.append(len(indices))
    return sp.csr_matrix((np.array(data, np.float32), np.array(indices, np.int32),
                          np.array(indptr, np.int64)), shape=(rows, cols))


@st.composite
def histories(draw: st.DrawFn) -> sp.csr_matrix:
    """Users x items weights: mostly positive (a returned item's net weight can go below 0)."""
    x = draw(matrices())
    return x if x.shape[0] else sp.csr_matrix((1, x.shape[1]), dtype=np.float32)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request: pytest.FixtureRequest) -> Iterator[None]:
    with mock.patch.dict(os.environ, {"RECS_THREADS": str(request.param)}):
        yield


def both_ways(run: Callable[[], sp.csr_matrix],
              block: int | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``run()`` on the numpy path, then on the kernel; ``block`` shrinks the blocks of rows
    (a few products each) so that several run, on the thread workers."""
    budget = block if block is not None else knn.BLOCK_COOCCURRENCES
    with mock.patch.object(knn, "BLOCK_COOCCURRENCES", budget):
        with mock.patch.dict(os.environ, {"RECS_KERNELS": "off"}):
            slow = run()
        with mock.patch.dict(os.environ, {"RECS_KERNELS": "on"}):
            fast = run()
    return slow, fast


def assert_bitwise_equal(fast: sp.csr_matrix, slow: sp.csr_matrix) -> None:
    assert fast.shape == slow.shape
    assert fast.dtype == slow.dtype == np.float32
    np.testing.assert_array_equal(fast.indptr, slow.indptr, "indptr")
    np.testing.assert_array_equal(fast.indices, slow.indices, "indices")
    np.testing.assert_array_equal(fast.data.view(np.uint32), slow.data.view(np.uint32), "bits")
    assert fast.has_sorted_indices and slow.has_sorted_indices


@SETTINGS
@given(left=matrices(), data=st.data(), k=st.integers(0, 14), block=st.sampled_from([None, 3]))
def test_plain_product_equals_the_numpy_path(threads: None, left: sp.csr_matrix,
                                             data: st.DataObject, k: int,
                                             block: int | None) -> None:
    """Rectangular too (the cold items' and the content model's neighbours): the diagonal is
    where the row's index equals the column's."""
    right = data.draw(matrices(n_rows=left.shape[1]))
    slow, fast = both_ways(lambda: blocked_topk_product(left, right, k), block)
    assert_bitwise_equal(fast, slow)


@SETTINGS
@given(x=histories(), k=st.integers(1, 14), shrinkage=st.sampled_from([0.0, 0.5, 10.0]),
       alpha=st.sampled_from([0.5, 0.75, 0.2]), block=st.sampled_from([None, 2]))
def test_cosine_equals_the_numpy_path(threads: None, x: sp.csr_matrix, k: int,
                                      shrinkage: float, alpha: float,
                                      block: int | None) -> None:
    slow, fast = both_ways(lambda: cosine(x, k, shrinkage, alpha), block)
    assert_bitwise_equal(fast, slow)


@SETTINGS
@given(x=histories(), k=st.integers(1, 14), alpha=st.sampled_from([0.5, 1.0]),
       beta=st.sampled_from([0.0, 0.25, 0.6]), block=st.sampled_from([None, 2]))
def test_rp3beta_equals_the_numpy_path(threads: None, x: sp.csr_matrix, k: int, alpha: float,
                                       beta: float, block: int | None) -> None:
    model = RP3BetaRecommender(neighbours=k, alpha=alpha, beta=beta)
    slow, fast = both_ways(lambda: model.compute_similarity(x), block)
    assert_bitwise_equal(fast, slow)


def test_many_rows_on_two_threads_equal_the_numpy_path() -> None:
    """A matrix large enough for many blocks and rows longer than k, with real-valued weights."""
    rng = np.random.default_rng(11)
    x = sp.random(3000, 400, density=0.02, random_state=rng, dtype=np.float32, format="csr")
    x.data = (x.data * 3).astype(np.float32)
    with mock.patch.dict(os.environ, {"RECS_THREADS": "2"}):
        slow, fast = both_ways(lambda: RP3BetaRecommender(neighbours=25).compute_similarity(x),
                               block=5000)
        assert_bitwise_equal(fast, slow)
        slow, fast = both_ways(lambda: cosine(x, 25, 10.0), block=5000)
        assert_bitwise_equal(fast, slow)
    assert fast.nnz > 400 * 20


def test_known_answer_co_occurrence_and_cosine() -> None:
    """Three shoppers: {0, 1}, {0, 1, 2}, {1, 2}. Item 0 meets 1 twice and 2 once; 1 meets 0
    and 2 twice each (a tie: the lower column wins a single place); 2 meets 0 once, 1 twice."""
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], np.float32))
    top1 = cosine(x, 1, normalize=False)
    assert top1.toarray().tolist() == [[0, 2, 0], [2, 0, 0], [0, 2, 0]]
    top2 = cosine(x, 2, normalize=False)
    assert top2.toarray().tolist() == [[0, 2, 1], [2, 0, 2], [1, 2, 0]]
    # Cosine: |x0| = |x2| = sqrt 2, |x1| = sqrt 3.
    sims = cosine(x, 2, shrinkage=0.0).toarray()
    r6, half = 2 / np.sqrt(6), 0.5
    np.testing.assert_allclose(sims, [[0, r6, half], [r6, 0, r6], [half, r6, 0]], rtol=1e-6)


def test_cancelling_and_negative_products_are_left_out() -> None:
    """Row 0 meets column 1 with +1 and -1 (an exact zero), column 2 with -2 (negative) and
    column 3 with +3: only column 3 stays; a zero similarity is no neighbour."""
    left = sp.csr_matrix(np.array([[1, 1]], np.float32))
    right = sp.csr_matrix(np.array([[0, 1, -1, 1], [0, -1, -1, 2]], np.float32))
    with mock.patch.dict(os.environ, {"RECS_KERNELS": "on"}):
        result = blocked_topk_product(left, right, 4)
    assert result.indices.tolist() == [3]
    assert result.data.tolist() == [3.0]


def test_rescale_applies_the_same_expression_as_the_kernel() -> None:
    """``Rescale.apply`` (the numpy path) is the kernel's float32 expression: cosine divides by
    ``row_norm * col_norm + shrink``, a column weight multiplies."""
    rows, cols = np.array([0, 1]), np.array([1, 0])
    dots = np.array([3.0, 4.0], np.float32)
    scaled = Rescale.cosine(np.array([1, 2], np.float32), np.array([4, 0.5], np.float32),
                            1.0).apply(rows, cols, dots)
    assert scaled.dtype == np.float32
    assert scaled.tolist() == [2.0, np.float32(4) / np.float32(9)]
    weighted = Rescale.column_weight(np.array([0.5, 2.0])).apply(rows, cols, dots)
    assert weighted.dtype == np.float32 and weighted.tolist() == [6.0, 2.0]


def test_missing_or_short_arrays_are_refused_before_the_kernel_reads_them() -> None:
    x = sp.csr_matrix(np.eye(2, dtype=np.float32))
    with pytest.raises(ValueError, match="without its arrays"):
        kernel.topk_product(x, x, 1, [(0, 2)], Rescale(kernel.COSINE))
    with pytest.raises(ValueError, match="without its arrays"):
        kernel.topk_product(x, x, 1, [(0, 2)], Rescale.column_weight(np.ones(1)))
    with pytest.raises(ValueError, match="cannot multiply"):
        kernel.topk_product(x, sp.csr_matrix(np.eye(3, dtype=np.float32)), 1, [(0, 2)],
                            Rescale())


def test_turned_off_the_numpy_path_runs() -> None:
    with mock.patch.dict(os.environ, {"RECS_KERNELS": "off"}):
        assert not kernel.available()
        x = sp.csr_matrix(np.eye(2, dtype=np.float32))
        assert kernel.topk_product(x, x, 1, [(0, 2)], Rescale()) is None
