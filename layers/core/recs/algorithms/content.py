"""Content similarity from catalog attributes: neighbours for items nobody has touched yet.

Every interaction model needs an item's interactions before it can place it: a new item
has no column worth anything in the user-item matrix, so it has no neighbours, no reasons
and no way into a personalised list. Its catalog entry is there from the first minute. Each
item becomes a sparse vector of features:

- ``t:<word>`` for each word of its title (lower case, letters and digits, two characters or
  more), TF-IDF weighted, so "LANTERN" says more than "SET";
- ``c:<prefix>`` for each prefix of its category path (``electronics``,
  ``electronics/phones``), so siblings share the parent;
- ``p:<band>`` for its price band, a factor of ``PRICE_BAND_RATIO`` wide on a log scale, and
  half a weight on each neighbouring band, so 9.99 and 10.50 stay close;
- ``b:<brand>`` when the item has a brand.

Each group is scaled by its weight, the vector normalised to unit length, and the similarity
of two items is their cosine. ``neighbours`` keeps each item's top ones (items x items, the
shape the batch's item neighbours have), and ``score_candidates`` ranks chosen items (the new
arrivals) for shoppers by the summed similarity to the items in their history. numpy and
scipy only: the vocabulary is built in Python once per catalog.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recs.algorithms.base import RecommenderError
from recs.algorithms.knn import blocked_topk_product

PRICE_BAND_RATIO = 1.5
WORD = re.compile(r"[a-z0-9]{2,}")


@dataclass(frozen=True)
class Weights:
    """How much each attribute group counts (0 leaves it out)."""

    title: float = 1.0
    category: float = 1.0
    price: float = 0.3
    brand: float = 1.0


def title_words(title: str | None) -> list[str]:
    """Distinct words of a title, in order: lower case, two letters or digits or more."""
    seen: dict[str, None] = {}
    for word in WORD.findall((title or "").lower()):
        seen.setdefault(word, None)
    return list(seen)


def category_prefixes(path: str | None) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c`` (empty segments dropped)."""
    parts = [p.strip().lower() for p in (path or "").split("/") if p.strip()]
    return ["/".join(parts[:i + 1]) for i in range(len(parts))]


def price_band(price: float | None) -> int | None:
    """The band index of a positive price on a log scale of ratio ``PRICE_BAND_RATIO``."""
    if price is None or not math.isfinite(price) or price <= 0:
        return None
    return math.floor(math.log(price) / math.log(PRICE_BAND_RATIO))


def item_features(
    titles: Sequence[str | None],
    categories: Sequence[str | None] | None = None,
    prices: Sequence[float | None] | None = None,
    brands: Sequence[str | None] | None = None,
    weights: Weights = Weights(),
) -> sp.csr_matrix:
    """Items x features, each row of unit length (an item without attributes: all zero)."""
    n = len(titles)
    for name, column in (("categories", categories), ("prices", prices), ("brands", brands)):
        if column is not None and len(column) != n:
            raise RecommenderError(f"{name} has {len(column)} entries for {n} titles")
    rows: list[int] = []
    keys: list[str] = []
    values: list[float] = []

    def add(item: int, key: str, value: float) -> None:
        rows.append(item)
        keys.append(key)
        values.append(value)

    for i in range(n):
        if weights.title:
            for word in title_words(titles[i]):
                add(i, "t:" + word, weights.title)
        if categories is not None and weights.category:
            for prefix in category_prefixes(categories[i]):
                add(i, "c:" + prefix, weights.category)
        if prices is not None and weights.price:
            band = price_band(prices[i])
            if band is not None:
                add(i, f"p:{band}", weights.price)
                add(i, f"p:{band - 1}", weights.price / 2)
                add(i, f"p:{band + 1}", weights.price / 2)
        if brands is not None and weights.brand and brands[i]:
            add(i, "b:" + str(brands[i]).strip().lower(), weights.brand)
    if not rows:
        return sp.csr_matrix((n, 0), dtype=np.float32)
    vocabulary, cols = np.unique(np.asarray(keys, dtype=str), return_inverse=True)
    m = sp.csr_matrix((np.asarray(values, np.float32), (np.asarray(rows), cols)),
                      shape=(n, vocabulary.size), dtype=np.float32)
    m.sum_duplicates()
    # Title words are weighted by rarity (IDF); the other groups are few values each.
    words = np.char.startswith(vocabulary, "t:")
    df = np.bincount(m.indices, minlength=vocabulary.size).astype(np.float32)
    idf = np.where(words, np.log((1.0 + n) / (1.0 + df)) + 1.0, 1.0).astype(np.float32)
    m = sp.csr_matrix(m @ sp.diags(idf), dtype=np.float32)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0).astype(np.float32)
    return sp.csr_matrix(sp.diags(scale) @ m, dtype=np.float32)


def neighbours(features: sp.csr_matrix, k: int,
               candidates: np.ndarray | None = None) -> sp.csr_matrix:
    """Each item's ``k`` most similar items by cosine (items x items, never itself);
    with ``candidates`` only those items are neighbours (the others' columns stay empty)."""
    if k < 1:
        raise RecommenderError(f"k must be >= 1, got {k}")
    f = sp.csr_matrix(features, dtype=np.float32)
    right = f
    if candidates is not None:
        keep = np.zeros(f.shape[0], dtype=np.float32)
        keep[np.asarray(candidates, dtype=np.int64)] = 1.0
        right = sp.csr_matrix(sp.diags(keep) @ f)
    return blocked_topk_product(f, sp.csr_matrix(right.T), k)


def score_candidates(user_items: sp.csr_matrix, features: sp.csr_matrix,
                     candidates: np.ndarray) -> np.ndarray:
    """Users x candidates: ``sum_i w(u, i) cos(i, j)`` over the user's history items ``i``,
    divided by the user's total weight, so shoppers with long histories are not favoured."""
    x = sp.csr_matrix(user_items, dtype=np.float32)
    if x.shape[1] != features.shape[0]:
        raise RecommenderError(f"user_items has {x.shape[1]} items, features "
                               f"{features.shape[0]}")
    profile = sp.csr_matrix(x @ features)  # users x features
    cand = sp.csr_matrix(features[np.asarray(candidates, dtype=np.int64)])
    scores = np.asarray((profile @ cand.T).todense(), dtype=np.float32)
    total = np.asarray(x.sum(axis=1)).ravel().astype(np.float32)
    return scores / np.where(total > 0, total, 1.0)[:, None]
