"""The compiled ranking kernel gives the numpy path's lists, scores and reasons, bit for bit.

Every model whose scores are a sum over item neighbours (the neighbourhood models, and the
blend around one) is ranked by ``recs/algorithms/kernels/rank.c`` when it is built; the numpy
path stays for machines without a compiler and ``RECS_KERNELS=off``. Whichever runs, a shop
must get the same recommendations: these tests rank the same users both ways.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recs.algorithms import registry as A
from recs.algorithms.base import Recommender
from recs.algorithms.kernels import rank as kernel
from recs.batch.recommend import UserRecommendations, recommend

pytestmark = pytest.mark.skipif(
    not kernel.available(),
    reason="the kernels are not built (make kernels; a C compiler is needed)")

T = TypeVar("T")
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw: st.DrawFn) -> sp.csr_matrix:
    """Users x items weights with what real windows hold: ties, negative net weights (a
    return outweighing a view), explicit zeros, empty users and items."""
    n_users = draw(st.integers(1, 14))
    n_items = draw(st.integers(2, 12))
    cells = n_users * n_items
    present = draw(st.lists(st.booleans(), min_size=cells, max_size=cells))
    values = draw(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 1.0, 2.0, 3.5]),
                           min_size=cells, max_size=cells))
    rows, cols = np.nonzero(np.array(present).reshape(n_users, n_items))
    data = np.array(values, np.float32).reshape(n_users, n_items)[rows, cols]
    # Built from coordinates so explicit zeros stay stored, as a window's summed weights can.
    return sp.csr_matrix((data, (rows, cols)), shape=(n_users, n_items))


def model(name: str, popularity: float) -> Recommender:
    if name == "blend":
        return A.create("blend", weight=0.4, discovery="rp3beta", popularity=popularity,
                        discovery_params={"neighbours": 4})
    if name == "blend-cosine":
        return A.create("blend", weight=0.7, discovery="cosine", popularity=popularity,
                        discovery_params={"neighbours": 3})
    return A.create(name, neighbours=3)


MODELS = st.sampled_from(["blend", "blend-cosine", "cosine", "rp3beta", "bm25", "swing"])


def both_ways(run: Callable[[], T]) -> tuple[T, T]:
    """``run()`` on the numpy path, then on the kernel."""
    with mock.patch.dict(os.environ, {"RECS_KERNELS": "off"}):
        slow = run()
    with mock.patch.dict(os.environ, {"RECS_KERNELS": "on"}):
        fast = run()
    return slow, fast


def assert_same(slow: UserRecommendations, fast: UserRecommendations) -> None:
    for field in ("indptr", "items", "scores", "because"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field), field)


@SETTINGS
@given(x=histories(), name=MODELS, n=st.integers(0, 9), popularity=st.sampled_from([0, 0.3]),
       new_items=st.integers(0, 3), excluded=st.integers(0, 2**16))
def test_batch_lists_equal_the_numpy_path(x, name, n,
                                          popularity, new_items, excluded) -> None:
    fitted = model(name, popularity).fit(x)
    # Some bought items never to recommend again, as the batch's exclusions.
    bits = np.array([(excluded >> (i % 16)) & 1 for i in range(x.nnz)], bool)
    exclude = sp.csr_matrix(((bits & (x.data > 0)).astype(np.float32), x.indices, x.indptr),
                            shape=x.shape)
    slow, fast = both_ways(lambda: recommend(
        fitted, x, n, exclude=exclude, new_items=new_items))
    assert_same(slow, fast)


@SETTINGS
@given(x=histories(), name=MODELS, n=st.integers(1, 9), filt=st.booleans(),
       popularity=st.sampled_from([0, 0.5, 1.0]))
def test_rank_equals_the_numpy_path(x, name, n, filt,
                                    popularity) -> None:
    fitted = model(name, popularity).fit(x)
    slow, fast = both_ways(lambda: fitted.rank(
        x, n, filter_already_liked_items=filt))
    for field in ("indptr", "items", "scores"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field), field)


def test_blocks_of_many_users_equal_the_numpy_path() -> None:
    """Several blocks on the thread workers, popularity candidates sized per block."""
    rng = np.random.default_rng(7)
    x = sp.random(5000, 300, density=0.03, random_state=rng, dtype=np.float32, format="csr")
    x.data = np.round(x.data * 4 - 0.5, 1).astype(np.float32)
    bought = sp.csr_matrix(x > 1.5, dtype=np.float32)
    fitted = A.create("blend", weight=0.5, discovery="rp3beta", popularity=0.2,
                      discovery_params={"neighbours": 20}).fit(x)
    slow, fast = both_ways(lambda: recommend(fitted, x, 20, exclude=bought,
                                                          new_items=10))
    assert_same(slow, fast)
    assert fast.items.size > 5000 * 10


def test_known_answer_names_the_purchase_behind_each_item() -> None:
    """Two shoppers buy A and B together, two buy C and D: a shopper with only A is offered
    B because of A; one with only D is offered C because of D; their own items come back as
    repeats naming themselves."""
    a, b, c, d = range(4)
    together = sp.csr_matrix(np.array([
        [1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1],
        [2, 0, 0, 0], [0, 0, 0, 2]], np.float32))
    fitted = A.create("blend", weight=0.6, discovery="cosine",
                      discovery_params={"neighbours": 2}).fit(together)
    lists = fitted.rank_with_reasons(together[4:], 2)
    first = slice(lists.indptr[0], lists.indptr[1])
    second = slice(lists.indptr[1], lists.indptr[2])
    assert lists.items[first].tolist() == [a, b]
    assert lists.because[first].tolist() == [a, a]
    assert lists.owned[first].tolist() == [True, False]
    assert lists.items[second].tolist() == [d, c]
    assert lists.because[second].tolist() == [d, d]
