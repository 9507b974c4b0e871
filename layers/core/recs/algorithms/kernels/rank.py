"""Ranking users with ``rank.c``: top-n lists, the history item behind each, and ownership.

``Scoring`` says what a model's scores are in the kernel's terms (the neighbours, and for a
blend its repeat weights and popularity); a model hands one over from
``Recommender._kernel_scoring`` when its scores are of that shape, and
``Recommender.rank`` / ``rank_with_reasons`` run the kernel instead of the numpy path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recs.algorithms.kernels import F32, I64, P, function, pointer
from recs.algorithms.threads import in_threads

_ARGS = [I64, P, P, P, P, P, I64, P, P, P, I64, I64, P, P, P, I64, F32, F32, I64,
         P, P, P, P, P]


@dataclass(frozen=True)
class Blend:
    """The blend's terms (``recs.algorithms.blend``): per-item repeat weights, popularity and
    its share, and the items in popularity order (stable), whose head are its candidates."""

    repeat_weight: np.ndarray  # float32, one per item
    popularity: np.ndarray  # float32, one per item
    share: float
    popular_order: np.ndarray  # int32


@dataclass(frozen=True)
class Scoring:
    similarity: sp.csr_matrix  # items x items, float32
    blend: Blend | None = None


@dataclass
class Ranked:
    """Per-user lists in CSR form with each entry's reason and whether the user owns it."""

    indptr: np.ndarray  # int64
    items: np.ndarray  # int32
    scores: np.ndarray  # float32
    because: np.ndarray  # int32
    owned: np.ndarray  # bool


def available() -> bool:
    return function("recs_rank_users", _ARGS) is not None


def _popular(blend: Blend, history: sp.csr_matrix, mask: sp.csr_matrix | None,
             n: int) -> np.ndarray:
    """The block's popularity candidates, as the numpy path picks them: the best ``n`` plus
    the longest mask row plus the longest positive history (``Recommender.rank`` and
    ``BlendRecommender._parts``), with positive popularity."""
    wanted = n + (0 if mask is None else int(np.diff(mask.indptr).max(initial=0)))
    positive = np.diff(sp.csr_matrix(history > 0).indptr)
    wanted += int(positive.max(initial=0))
    top = blend.popular_order[:min(wanted, blend.popular_order.size)]
    return np.ascontiguousarray(top[blend.popularity[top] > 0], dtype=np.int32)


def block_mask(block: sp.csr_matrix, exclude: sp.csr_matrix | None,
               filter_known: bool) -> sp.csr_matrix | None:
    """The cells never listed for a block of users: the excluded ones, and with
    ``filter_known`` the block's own history (the numpy path masks these; the kernel masks
    the history itself and takes only this count for the popularity candidates)."""
    mask = block if filter_known else None
    if exclude is not None:
        mask = exclude if mask is None else sp.csr_matrix(
            abs(mask).astype(bool) + exclude.astype(bool))
    return mask


def rank_block(scoring: Scoring, block: sp.csr_matrix, n: int, filter_known: bool,
               exclude: sp.csr_matrix | None) -> Ranked | None:
    """One block of users (as ``Recommender.rank`` blocks them), or None without the kernel."""
    kernel = function("recs_rank_users", _ARGS)
    if kernel is None:
        return None
    users = block.shape[0]
    n = max(int(n), 0)
    h_indptr = block.indptr.astype(np.int64)
    h_indices = np.ascontiguousarray(block.indices, dtype=np.int32)
    h_data = np.ascontiguousarray(block.data, dtype=np.float32)
    m_indptr = m_indices = None
    if exclude is not None:
        cells = sp.csr_matrix(exclude, copy=True)
        cells.eliminate_zeros()
        m_indptr = cells.indptr.astype(np.int64)
        m_indices = np.ascontiguousarray(cells.indices, dtype=np.int32)
    sim = scoring.similarity
    s_indptr = sim.indptr.astype(np.int64, copy=False)
    s_indices = np.ascontiguousarray(sim.indices, dtype=np.int32)
    s_data = np.ascontiguousarray(sim.data, dtype=np.float32)
    blend = scoring.blend
    repeat_weight = popularity = popular = None
    keep_share = popular_share = np.float32(0.0)
    if blend is not None:
        repeat_weight = np.ascontiguousarray(blend.repeat_weight, dtype=np.float32)
        popularity = np.ascontiguousarray(blend.popularity, dtype=np.float32)
        if blend.share > 0:
            popular = _popular(blend, block, block_mask(block, exclude, filter_known), n)
            keep_share, popular_share = np.float32(1.0 - blend.share), np.float32(blend.share)
    counts = np.zeros(users, np.int64)
    items = np.empty(users * n, np.int32)
    scores = np.empty(users * n, np.float32)
    because = np.empty(users * n, np.int32)
    owned = np.empty(users * n, np.uint8)
    status = kernel(
        users, pointer(h_indptr), pointer(h_indices), pointer(h_data),
        pointer(m_indptr), pointer(m_indices), int(filter_known),
        pointer(s_indptr), pointer(s_indices), pointer(s_data), int(sim.shape[1]),
        int(blend is not None), pointer(repeat_weight), pointer(popularity), pointer(popular),
        0 if popular is None else int(popular.size), float(keep_share), float(popular_share),
        n, pointer(counts), pointer(items), pointer(scores), pointer(because), pointer(owned))
    if status != 0:
        raise MemoryError("recs_rank_users: out of memory for its scratch rows")
    keep = (np.arange(n)[None, :] < counts[:, None]).ravel() if n else np.zeros(0, bool)
    return Ranked(np.r_[0, np.cumsum(counts)].astype(np.int64), items[keep], scores[keep],
                  because[keep], owned[keep].astype(bool))


def rank(scoring: Scoring, x: sp.csr_matrix, n: int, filter_known: bool,
         exclude: sp.csr_matrix | None, block_users: int) -> Ranked | None:
    """Every row of ``x`` in blocks of ``block_users`` on the thread workers, or None."""
    if not available():
        return None
    starts = range(0, x.shape[0], block_users)

    def one(start: int) -> Ranked:
        stop = min(start + block_users, x.shape[0])
        part = rank_block(scoring, x[start:stop], n, filter_known,
                          None if exclude is None else sp.csr_matrix(exclude[start:stop]))
        assert part is not None  # available() said so
        return part

    parts = in_threads(one, starts)
    if not parts:
        return Ranked(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32),
                      np.zeros(0, np.int32), np.zeros(0, bool))
    counts = np.concatenate([np.diff(p.indptr) for p in parts])
    return Ranked(np.r_[0, np.cumsum(counts)].astype(np.int64),
                  np.concatenate([p.items for p in parts]),
                  np.concatenate([p.scores for p in parts]),
                  np.concatenate([p.because for p in parts]),
                  np.concatenate([p.owned for p in parts]))
