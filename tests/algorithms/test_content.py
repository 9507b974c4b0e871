"""Content similarity: known answers on a tiny catalog, and properties of any catalog."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recs.algorithms import content
from recs.algorithms.base import RecommenderError

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

TITLES = ["RED METAL LANTERN", "WHITE METAL LANTERN", "BAKING SET 9 PIECE", "BAKING TIN SET"]
CATEGORIES = ["home/lights", "home/lights", "kitchen/baking", "kitchen/baking"]
PRICES = [3.39, 3.75, 4.95, 40.0]


def test_attributes_become_words_prefixes_and_bands() -> None:
    assert content.title_words("WHITE HANGING HEART T-LIGHT HOLDER, white") == [
        "white", "hanging", "heart", "light", "holder"]
    assert content.title_words(None) == []
    assert content.category_prefixes("Electronics/Phones/") == ["electronics",
                                                                "electronics/phones"]
    assert content.price_band(1.0) == 0 and content.price_band(1.49) == 0
    assert content.price_band(1.5) == 1 and content.price_band(0.0) is None


def test_an_item_nobody_touched_has_the_neighbours_its_attributes_give() -> None:
    f = content.item_features(TITLES, CATEGORIES, PRICES)
    near = content.neighbours(f, 1)
    assert near.shape == (4, 4)
    assert [int(near[i].indices[0]) for i in range(4)] == [1, 0, 3, 2]


def test_groups_can_be_left_out() -> None:
    titles_only = content.item_features(TITLES, weights=content.Weights(price=0, category=0))
    # "BAKING SET 9 PIECE" and "BAKING TIN SET" share two words; the lanterns share two.
    sim = (titles_only @ titles_only.T).toarray()
    assert sim[2, 3] > 0 and sim[0, 2] == 0
    no_words = content.item_features(TITLES, CATEGORIES, PRICES,
                                     weights=content.Weights(title=0))
    # Without titles the two lanterns share category and band: identical vectors.
    np.testing.assert_allclose(no_words[0].toarray(), no_words[1].toarray(), rtol=1e-6)


def test_new_items_are_ranked_by_the_shoppers_history() -> None:
    f = content.item_features(TITLES, CATEGORIES, PRICES)
    history = sp.csr_matrix(np.array([[2.0, 0, 0, 0], [0, 0, 1.0, 0]], np.float32))
    scores = content.score_candidates(history, f, np.array([1, 3]))
    # The lantern buyer prefers the other lantern; the baker the baking tin.
    assert scores[0, 0] > scores[0, 1] and scores[1, 1] > scores[1, 0]
    want = (f[0] @ f[1].T).toarray()[0, 0]  # one history item of weight 2, divided by 2
    assert scores[0, 0] == pytest.approx(want, rel=1e-5)


def test_mismatched_columns_are_refused() -> None:
    with pytest.raises(RecommenderError, match="prices"):
        content.item_features(TITLES, prices=[1.0])
    with pytest.raises(RecommenderError):
        content.neighbours(content.item_features(TITLES), 0)


WORDS = st.sampled_from(["red", "lantern", "set", "tin", "mug", "heart", "9", "x"])


@SETTINGS
@given(st.lists(st.tuples(st.lists(WORDS, max_size=4),
                          st.sampled_from(["", "a", "a/b", "a/c", "d"]),
                          st.one_of(st.none(), st.floats(0.01, 500.0))),
                min_size=1, max_size=12),
       st.integers(1, 5))
def test_similarity_is_a_cosine_and_never_the_item_itself(items, k) -> None:
    titles = [" ".join(words) for words, _, _ in items]
    f = content.item_features(titles, [c for _, c, _ in items], [p for _, _, p in items])
    norms = np.sqrt(np.asarray(f.multiply(f).sum(axis=1)).ravel())
    assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0))
    near = content.neighbours(f, k)
    rows = np.repeat(np.arange(near.shape[0]), np.diff(near.indptr))
    assert not np.any(rows == near.indices)
    assert np.all(np.diff(near.indptr) <= k)
    full = (f @ f.T).toarray()
    np.testing.assert_allclose(full, full.T, atol=1e-6)
    assert full.max(initial=0) <= 1 + 1e-5
    # each kept neighbour is at least as similar as any item left out of that row
    for i in range(near.shape[0]):
        kept = near[i].toarray().ravel()
        others = np.delete(full[i], np.r_[i, near[i].indices])
        if near[i].nnz == k and others.size:
            assert kept[near[i].indices].min() >= others.max() - 1e-5
