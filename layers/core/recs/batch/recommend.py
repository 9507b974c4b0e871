"""User recommendations from item neighbours, each with the history item behind it.

``score(u, j) = sum_i w(u, i) * sim(i, j)`` over the user's history; the reason is the ``i``
with the largest term, so "Because you bought Rice" names the purchase that mattered most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recs.batch.similarity import topk_per_row

DEFAULT_BLOCK_USERS = 2048


@dataclass
class UserRecommendations:
    """CSR-shaped lists: user ``u``'s items are ``items[indptr[u]:indptr[u+1]]``, best first."""

    indptr: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    because: np.ndarray  # history item index behind each recommendation


def recommend(
    user_items: sp.csr_matrix,
    similarity: sp.csr_matrix,
    n: int,
    exclude: sp.csr_matrix | None = None,
    block_users: int = DEFAULT_BLOCK_USERS,
) -> UserRecommendations:
    """Top-``n`` items per user; ``exclude`` (users x items, nonzero = excluded) filters."""
    x = sp.csr_matrix(user_items, dtype=np.float32)
    sim = sp.csr_matrix(similarity, dtype=np.float32)
    sim_t = sp.csr_matrix(sim.T)
    n_users = x.shape[0]
    counts = np.zeros(n_users, dtype=np.int64)
    items_parts, scores_parts, because_parts = [], [], []
    for start in range(0, n_users, block_users):
        stop = min(start + block_users, n_users)
        block = x[start:stop]
        scores = sp.csr_matrix(block @ sim)
        if exclude is not None:
            excluded = exclude[start:stop].astype(bool).astype(np.float32)
            scores = scores - scores.multiply(excluded)
            scores.eliminate_zeros()
        top = topk_per_row(scores, n)
        rows = np.repeat(np.arange(stop - start), np.diff(top.indptr))
        order = np.lexsort((top.indices, -top.data, rows))
        rows, items, values = rows[order], top.indices[order], top.data[order]
        because = _strongest_contributors(block, sim_t, rows, items)
        counts[start:stop] = np.diff(top.indptr)
        items_parts.append(items.astype(np.int32))
        scores_parts.append(values.astype(np.float32))
        because_parts.append(because.astype(np.int32))
    indptr = np.r_[0, np.cumsum(counts)]
    return UserRecommendations(
        indptr=indptr.astype(np.int64),
        items=np.concatenate(items_parts) if items_parts else np.zeros(0, np.int32),
        scores=np.concatenate(scores_parts) if scores_parts else np.zeros(0, np.float32),
        because=np.concatenate(because_parts) if because_parts else np.zeros(0, np.int32),
    )


def _strongest_contributors(
    block: sp.csr_matrix, sim_t: sp.csr_matrix, rows: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """For each (user row, item) pair, the history item with the largest w * sim term."""
    if rows.size == 0:
        return np.zeros(0, dtype=np.int32)
    history = block[rows]  # one row per pair: the user's weights
    neighbours_in = sim_t[items]  # one row per pair: sim(i, item) for every i
    contributions = sp.csr_matrix(history.multiply(neighbours_in))
    return np.asarray(contributions.argmax(axis=1)).ravel()
