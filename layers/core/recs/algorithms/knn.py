"""Item-item neighbourhood models: cosine with shrinkage, BM25- and TF-IDF-weighted.

All three compute a sparse items x items similarity keeping each item's top-``neighbours``,
and score ``score(u, j) = sum_i w(u, i) * sim(i, j)`` over the user's history. The product
``X.T @ X`` is computed a block of items at a time, blocks sized from an upper bound on their
co-occurrences, so peak memory is one block's co-occurrence rather than the whole product;
blocks run on a small thread pool. The compiled kernel (``recs/algorithms/kernels/similarity.c``)
does a block's product, rescaling and top-k cut in one pass per item where it is built;
numpy and scipy do the same (to the bit) where it is not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.algorithms import catalog
from recs.algorithms.base import (
    RankedLists,
    Recommender,
    RecommenderError,
    _heaviest,
    in_threads,
    row_argmax,
    topk_mask,
    topn_sparse,
)
from recs.algorithms.kernels import rank as kernel
from recs.algorithms.kernels.similarity import Rescale, topk_product

try:  # scipy's own sparse product kernel, called without its counting pass (see product)
    from scipy.sparse._sparsetools import csr_matmat as _csr_matmat
except ImportError:  # pragma: no cover - a scipy that moved it: plain ``@`` instead
    _csr_matmat = None

# Upper bound on the co-occurrence entries of one block of items (about 50 MB at 12 bytes).
BLOCK_COOCCURRENCES = 4_000_000
_INT32_MAX = np.iinfo(np.int32).max


def product(left: sp.csr_matrix, right: sp.csr_matrix) -> sp.csr_matrix:
    """``left @ right`` as float32 CSR, the same entries in the same order as scipy's.

    scipy's product makes two passes over the work: one only to count the result's entries
    (a third of a similarity's time), one to compute them. The number of multiplications
    bounds the count, costs one pass over ``left``'s indices, and is small for the blocks
    this module multiplies, so the result is written into arrays of that size instead."""
    left = sp.csr_matrix(left, dtype=np.float32)
    right = sp.csr_matrix(right, dtype=np.float32)
    bound = int(np.diff(right.indptr)[left.indices].sum()) if left.nnz else 0
    if (_csr_matmat is None or bound == 0 or bound > _INT32_MAX or right.nnz > _INT32_MAX
            or left.nnz > _INT32_MAX):
        return sp.csr_matrix(left @ right, dtype=np.float32)
    indptr = np.empty(left.shape[0] + 1, dtype=np.int32)
    indices = np.empty(bound, dtype=np.int32)
    data = np.empty(bound, dtype=np.float32)
    _csr_matmat(left.shape[0], right.shape[1],
                left.indptr.astype(np.int32, copy=False), left.indices.astype(np.int32, copy=False),
                left.data, right.indptr.astype(np.int32, copy=False),
                right.indices.astype(np.int32, copy=False), right.data, indptr, indices, data)
    nnz = int(indptr[-1])
    return sp.csr_matrix((data[:nnz], indices[:nnz], indptr),
                         shape=(left.shape[0], right.shape[1]))


def _lists_to_csr(lists: RankedLists, shape: tuple[int, int]) -> sp.csr_matrix:
    return sp.csr_matrix((lists.scores, lists.items, lists.indptr), shape=shape)


def topk_per_row(matrix: sp.spmatrix, k: int) -> sp.csr_matrix:
    """Keep each row's ``k`` largest entries (ties broken by lower column index)."""
    csr = sp.csr_matrix(matrix)
    csr.sum_duplicates()
    lists = topn_sparse(csr, k)
    result = _lists_to_csr(lists, csr.shape)
    result.sort_indices()
    return result


def _item_blocks(left: sp.csr_matrix, right: sp.csr_matrix) -> list[tuple[int, int]]:
    """Row ranges of ``left`` whose products with ``right`` stay under the block budget."""
    right_row_nnz = np.diff(right.indptr).astype(np.int64)
    # Each stored (i, u) of left pairs with every stored entry of right's row u.
    pairs = np.r_[0, np.cumsum(right_row_nnz[left.indices])]
    per_row = np.minimum(np.diff(pairs[left.indptr]), right.shape[1])
    before = np.cumsum(per_row) - per_row
    block_of = before // BLOCK_COOCCURRENCES
    starts = np.flatnonzero(np.r_[True, block_of[1:] != block_of[:-1]]) if block_of.size else (
        np.zeros(1, np.int64))
    stops = np.r_[starts[1:], left.shape[0]]
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def blocked_topk_product(
    left: sp.csr_matrix,
    right: sp.csr_matrix,
    k: int,
    rescale: Rescale | None = None,
) -> sp.csr_matrix:
    """Top-``k`` per row of ``left @ right`` with the diagonal and non-positive values dropped.

    ``rescale`` turns each block's products into similarities (e.g. cosine) before the top-k
    cut. The compiled kernel (``recs.algorithms.kernels.similarity``) computes it when it is
    built; otherwise numpy and scipy do, with the same result to the bit.
    """
    n_rows, n_cols = left.shape[0], right.shape[1]
    if n_rows == 0:
        return sp.csr_matrix((0, n_cols), dtype=np.float32)
    blocks = _item_blocks(left, right)
    compiled = topk_product(left, right, k, blocks, rescale or Rescale())
    if compiled is not None:
        return compiled

    def one(bounds: tuple[int, int]) -> RankedLists:
        start, stop = bounds
        block = product(left[start:stop], right)
        rows = np.repeat(np.arange(start, stop), np.diff(block.indptr))
        values = block.data
        if rescale is not None:
            values = rescale.apply(rows, block.indices, values).astype(np.float32, copy=False)
        values = np.where((rows == block.indices) | ~(values > 0), 0.0, values)
        block.data = values.astype(np.float32, copy=False)
        block.eliminate_zeros()
        # No index sort (a product's are unsorted and sorting them is slow): topk_mask breaks
        # ties by column itself, and only the small result is sorted below.
        keep = topk_mask(block, k)
        kept_rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))[keep]
        counts = np.bincount(kept_rows, minlength=block.shape[0])
        return RankedLists(np.r_[0, np.cumsum(counts)].astype(np.int64),
                           block.indices[keep].astype(np.int32), block.data[keep])

    parts = in_threads(one, blocks)
    counts = np.concatenate([np.diff(p.indptr) for p in parts])
    lists = RankedLists(
        np.r_[0, np.cumsum(counts)].astype(np.int64),
        np.concatenate([p.items for p in parts]),
        np.concatenate([p.scores for p in parts]),
    )
    result = _lists_to_csr(lists, (n_rows, n_cols))
    result.sort_indices()
    return result


def cosine(
    user_items: sp.spmatrix,
    neighbours: int,
    shrinkage: float = 0.0,
    alpha: float = 0.5,
    normalize: bool = True,
) -> sp.csr_matrix:
    """Items x items similarity with shrinkage, top-``neighbours`` per row, no diagonal.

    ``sim(i, j) = x_i . x_j / (|x_i|^(2 alpha) |x_j|^(2 (1 - alpha)) + shrinkage)``: with
    ``alpha = 0.5`` this is cosine; shrinkage pulls down pairs seen together only a few times,
    which plain cosine rates as highly as well-supported ones; ``alpha > 0.5`` damps the
    popularity of the neighbour ``j``. ``normalize=False`` keeps the plain dot product.
    Row ``i`` lists the items most similar to ``i``.
    """
    x = sp.csr_matrix(user_items, dtype=np.float32)
    xt = sp.csr_matrix(x.T)
    if not normalize:
        return blocked_topk_product(xt, x, neighbours)
    sq = np.asarray(x.multiply(x).sum(axis=0)).ravel().astype(np.float64)
    left_norm = (sq ** alpha).astype(np.float32)
    right_norm = (sq ** (1.0 - alpha)).astype(np.float32)
    return blocked_topk_product(xt, x, neighbours, Rescale.cosine(left_norm, right_norm, shrinkage))


def bm25_weight(item_users: sp.spmatrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weights of an items x users matrix, as ``implicit.nearest_neighbours.bm25_weight``.

    Users are the terms: a user with many items (a heavy user, a bot) says less about each
    (idf); items are the documents: a popular item's weights are length-normalised (``b``);
    ``k1`` saturates repeated interactions.
    """
    x = sp.coo_matrix(item_users, dtype=np.float64)
    n = float(x.shape[0])
    idf = np.log(n) - np.log1p(np.bincount(x.col, minlength=x.shape[1]))
    row_sums = np.asarray(x.sum(axis=1)).ravel()
    average = row_sums.mean() if row_sums.size else 1.0
    length_norm = (1.0 - b) + b * row_sums / (average or 1.0)
    data = x.data * (k1 + 1.0) / (k1 * length_norm[x.row] + x.data) * idf[x.col]
    return sp.csr_matrix((data, (x.row, x.col)), shape=x.shape, dtype=np.float32)


def tfidf_weight(item_users: sp.spmatrix) -> sp.csr_matrix:
    """TF-IDF weights of an items x users matrix: ``sqrt(w) * idf(user)``."""
    x = sp.coo_matrix(item_users, dtype=np.float64)
    n = float(x.shape[0])
    idf = np.log(n) - np.log1p(np.bincount(x.col, minlength=x.shape[1]))
    data = np.sqrt(np.clip(x.data, 0, None)) * idf[x.col]
    return sp.csr_matrix((data, (x.row, x.col)), shape=x.shape, dtype=np.float32)


class ItemKNN(Recommender):
    """Base of the neighbourhood models: holds ``similarity`` (items x items, top-K rows)."""

    sparse_scores = True

    def __init__(self, neighbours: int = 50) -> None:
        if int(neighbours) < 1:
            raise RecommenderError(f"neighbours must be >= 1, got {neighbours}")
        self.neighbours = int(neighbours)
        self.similarity: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)
        self._lookup: sp.csr_matrix | None = None

    def get_params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours}

    def _fit(self, user_items: sp.csr_matrix) -> None:
        self.similarity = self.compute_similarity(user_items)
        self._lookup = None

    def compute_similarity(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        raise NotImplementedError

    def _score(self, user_items: sp.csr_matrix, n: int) -> sp.csr_matrix:
        return product(user_items, self.similarity)

    def _similar(self, itemids: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(self.similarity[itemids])

    def _kernel_scoring(self) -> kernel.Scoring | None:
        # A subclass scoring or explaining otherwise than the sum over neighbours is not it.
        own = type(self)
        if own._score is not ItemKNN._score or own.contributors is not ItemKNN.contributors:
            return None
        return kernel.Scoring(sp.csr_matrix(self.similarity, dtype=np.float32))

    def item_similarity(self) -> sp.csr_matrix:
        return self.similarity

    def _arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"sim_indptr": s.indptr, "sim_indices": s.indices,
                "sim_data": s.data.astype(np.float32)}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.similarity = sp.csr_matrix(
            (arrays["sim_data"], arrays["sim_indices"], arrays["sim_indptr"]),
            shape=(self.n_items, self.n_items),
        )
        self._lookup = None

    def contributors(
        self, user_items: sp.csr_matrix, rows: np.ndarray, items: np.ndarray
    ) -> np.ndarray:
        return strongest_contributors(user_items, self.lookup, rows, items)

    @property
    def lookup(self) -> sp.csr_matrix:
        """``similarity`` with sorted column indices (binary-searched cell lookups)."""
        if self._lookup is None:
            lookup = sp.csr_matrix(self.similarity, copy=not self.similarity.has_sorted_indices)
            lookup.sort_indices()
            self._lookup = lookup
        return self._lookup


def strongest_contributors(
    user_items: sp.csr_matrix, similarity: sp.csr_matrix, rows: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """For each (user row, item) pair, the history item with the largest ``w * sim`` term.

    A pair with no positive term (the item came from elsewhere) falls back to the user's
    heaviest history item. Each term is a cell lookup, ``sim[history item, item]``: a
    history is short, while an item's column (everything it is a neighbour of) can be long
    for a popular item, and copying those columns was most of the ranking time at scale.
    """
    if rows.size == 0:
        return np.zeros(0, dtype=np.int32)
    history = sp.csr_matrix(user_items)[rows]
    history.sort_indices()
    pair = np.repeat(np.arange(rows.size), np.diff(history.indptr))
    sims = np.zeros(pair.size, dtype=history.dtype)
    if pair.size:
        sims = np.asarray(similarity[history.indices, items[pair]]).ravel()
    terms = sp.csr_matrix(
        (history.data * sims.astype(history.dtype), history.indices, history.indptr),
        shape=history.shape)
    columns, top = row_argmax(terms)
    best = columns.astype(np.int32)
    missing = ~(top > 0)
    if missing.any():
        best[missing] = _heaviest(user_items, rows[missing])
    return best


class CosineRecommender(ItemKNN):
    """Item-item cosine with shrinkage (and optional asymmetric popularity damping)."""

    spec = catalog.COSINE

    def __init__(self, neighbours: int = 50, shrinkage: float = 10.0, alpha: float = 0.5) -> None:
        super().__init__(neighbours)
        if shrinkage < 0:
            raise RecommenderError(f"shrinkage must be >= 0, got {shrinkage}")
        if not 0.0 <= alpha <= 1.0:
            raise RecommenderError(f"alpha must lie in [0, 1], got {alpha}")
        self.shrinkage = float(shrinkage)
        self.alpha = float(alpha)

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "shrinkage": self.shrinkage, "alpha": self.alpha}

    def compute_similarity(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        return cosine(user_items, self.neighbours, self.shrinkage, self.alpha)


class BM25Recommender(ItemKNN):
    """Item-item on BM25-weighted interactions (``implicit``'s BM25Recommender, plus shrinkage).

    With ``normalize=False`` (implicit's choice) the similarity is the dot product of the
    weighted item vectors; with ``True`` it is their cosine with ``shrinkage``.
    """

    spec = catalog.BM25

    def __init__(self, neighbours: int = 50, k1: float = 1.2, b: float = 0.75,
                 shrinkage: float = 0.0, normalize: bool = False) -> None:
        super().__init__(neighbours)
        if k1 <= 0 or not 0.0 <= b <= 1.0 or shrinkage < 0:
            raise RecommenderError(f"bm25 needs k1 > 0, 0 <= b <= 1 and shrinkage >= 0, got "
                                   f"k1={k1}, b={b}, shrinkage={shrinkage}")
        self.k1, self.b = float(k1), float(b)
        self.shrinkage = float(shrinkage)
        self.normalize = bool(normalize)

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "k1": self.k1, "b": self.b,
                "shrinkage": self.shrinkage, "normalize": self.normalize}

    def compute_similarity(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        weighted = sp.csr_matrix(bm25_weight(user_items.T, self.k1, self.b).T)
        return cosine(weighted, self.neighbours, self.shrinkage, 0.5, self.normalize)


class TFIDFRecommender(ItemKNN):
    """Item-item cosine on TF-IDF-weighted interactions (``implicit``'s TFIDFRecommender)."""

    spec = catalog.TFIDF

    def __init__(self, neighbours: int = 50, shrinkage: float = 0.0) -> None:
        super().__init__(neighbours)
        if shrinkage < 0:
            raise RecommenderError(f"shrinkage must be >= 0, got {shrinkage}")
        self.shrinkage = float(shrinkage)

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "shrinkage": self.shrinkage}

    def compute_similarity(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        weighted = sp.csr_matrix(tfidf_weight(user_items.T).T)
        return cosine(weighted, self.neighbours, self.shrinkage)


class RP3BetaRecommender(ItemKNN):
    """RP3beta (Paudel et al. 2017): three-step random walk item -> user -> item, with the
    destination's popularity divided out.

    ``sim(i, j) = sum_u P(u | i) P(j | u) / pop(j) ** beta`` with transition probabilities
    from the interaction weights raised to ``alpha``; ``beta`` > 0 favours the long tail.
    The same blocked top-K product as cosine, on row-normalised matrices.
    """

    spec = catalog.RP3BETA

    def __init__(self, neighbours: int = 100, alpha: float = 0.5, beta: float = 0.25) -> None:
        super().__init__(neighbours)
        if alpha <= 0 or beta < 0:
            raise RecommenderError(f"rp3beta needs alpha > 0 and beta >= 0, got {alpha}, {beta}")
        self.alpha, self.beta = float(alpha), float(beta)

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "alpha": self.alpha, "beta": self.beta}

    def compute_similarity(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        b = sp.csr_matrix(user_items, dtype=np.float32, copy=True)
        b.data = np.power(np.clip(b.data, 0, None), self.alpha).astype(np.float32)
        b.eliminate_zeros()
        item_to_user = sp.csr_matrix(b.T)
        popularity = np.diff(item_to_user.indptr).astype(np.float32)
        user_to_item = _normalise_rows(b)  # P(j | u)
        item_to_user = _normalise_rows(item_to_user)  # P(u | i)
        penalty = np.power(np.maximum(popularity, 1.0), -self.beta).astype(np.float32)
        return blocked_topk_product(item_to_user, user_to_item, self.neighbours,
                                    Rescale.column_weight(penalty))


def _normalise_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """``m`` (float32) with each row divided by its sum, in place: no copy of the matrix, and
    each row's entries stay in their order (which decides how the product's sums round)."""
    sums = np.asarray(m.sum(axis=1)).ravel()
    scale = np.where(sums > 0, 1.0 / np.where(sums > 0, sums, 1.0), 0.0).astype(np.float32)
    m.data *= np.repeat(scale, np.diff(m.indptr))
    m.eliminate_zeros()  # a product that underflowed
    return m


class EASERecommender(ItemKNN):
    """EASE (Steck 2019): the closed-form item-item linear model
    ``B = argmin |X - XB|^2 + l2 |B|^2`` with ``diag(B) = 0``, i.e. ``P = (X^T X + l2 I)^-1``,
    ``B_ij = -P_ij / P_jj``.

    The dense inverse costs ``O(N^3)`` time and ``8 N^2`` bytes, so it is solved on the
    ``max_items`` most popular items only (numpy, no extra dependency); each row keeps its
    top-``neighbours`` positive weights (a sparse similarity like the other neighbourhood
    models, so scoring, reasons and the stored artefact are unchanged). When the catalogue is
    larger, rows and columns of the remaining (tail) items come from RP3beta, rescaled to the
    EASE weights' typical row maximum, so tail items still recommend and get recommended.
    """

    spec = catalog.EASE

    def __init__(self, neighbours: int = 100, l2: float = 200.0, max_items: int = 8000,
                 beta: float = 0.25) -> None:
        super().__init__(neighbours)
        if l2 <= 0 or int(max_items) < 1 or beta < 0:
            raise RecommenderError(
                f"ease needs l2 > 0, max_items >= 1, beta >= 0; got {l2}, {max_items}, {beta}")
        self.l2, self.max_items, self.beta = float(l2), int(max_items), float(beta)

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "l2": self.l2, "max_items": self.max_items,
                "beta": self.beta}

    def compute_similarity(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        x = sp.csr_matrix(user_items, dtype=np.float32)
        x.data = np.clip(x.data, 0, None)
        x.eliminate_zeros()
        n_items = x.shape[1]
        users_per_item = np.bincount(x.indices, minlength=n_items)
        order = np.argsort(-users_per_item, kind="stable")
        head = np.sort(order[:self.max_items][users_per_item[order[:self.max_items]] > 0])
        ease = self._ease(sp.csc_matrix(x)[:, head], head, n_items)
        if head.size == np.count_nonzero(users_per_item):
            return ease
        tail = np.ones(n_items, dtype=bool)
        tail[head] = False
        rp3 = RP3BetaRecommender(self.neighbours, beta=self.beta).compute_similarity(x)
        rows = np.repeat(np.arange(n_items), np.diff(rp3.indptr))
        keep = tail[rows] | tail[rp3.indices]
        fallback = sp.csr_matrix((rp3.data[keep], (rows[keep], rp3.indices[keep])),
                                 shape=rp3.shape)
        scale = _typical_row_max(ease) / max(_typical_row_max(fallback), 1e-12)
        return topk_per_row(ease + fallback * np.float32(scale), self.neighbours)

    def _ease(self, x_head: sp.csc_matrix, head: np.ndarray, n_items: int) -> sp.csr_matrix:
        if head.size == 0:
            return sp.csr_matrix((n_items, n_items), dtype=np.float32)
        gram = np.asarray((x_head.T @ x_head).toarray(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        del gram
        b = p / -np.diag(p)[None, :]
        del p
        np.fill_diagonal(b, 0.0)
        k = min(self.neighbours, head.size)
        top = np.argpartition(-b, k - 1, axis=1)[:, :k] if k < head.size else (
            np.broadcast_to(np.arange(head.size), b.shape))
        values = np.take_along_axis(b, top, axis=1).astype(np.float32)
        rows = np.repeat(head, top.shape[1])
        cols = head[top.ravel()]
        vals = values.ravel()
        positive = vals > 0
        out = sp.csr_matrix((vals[positive], (rows[positive], cols[positive])),
                            shape=(n_items, n_items), dtype=np.float32)
        out.sort_indices()
        return out


def _typical_row_max(m: sp.csr_matrix) -> float:
    lengths = np.diff(m.indptr)
    if m.nnz == 0:
        return 0.0
    return float(np.median(np.maximum.reduceat(m.data, m.indptr[:-1][lengths > 0])))
