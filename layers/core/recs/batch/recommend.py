"""User recommendation lists from any model, each with the history item behind it.

For item-item models ``score(u, j) = sum_i w(u, i) * sim(i, j)`` and the reason is the ``i``
with the largest term, so "Because you bought Rice" names the purchase that mattered most;
a recommended item the user already had (a repeat) names itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recs.algorithms.base import Recommender, in_threads

DEFAULT_BLOCK_USERS = 2048


@dataclass
class UserRecommendations:
    """CSR-shaped lists: user ``u``'s items are ``items[indptr[u]:indptr[u+1]]``, best first."""

    indptr: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    because: np.ndarray  # history item index behind each recommendation


def recommend(
    model: Recommender,
    user_items: sp.csr_matrix,
    n: int,
    exclude: sp.csr_matrix | None = None,
    filter_already_liked_items: bool = False,
    block_users: int = DEFAULT_BLOCK_USERS,
) -> UserRecommendations:
    """Top-``n`` items per user; ``exclude`` (users x items, nonzero = excluded) filters."""
    x = sp.csr_matrix(user_items, dtype=np.float32)
    n_users = x.shape[0]

    def one(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        stop = min(start + block_users, n_users)
        block = x[start:stop]
        lists = model.rank(
            block, n, filter_already_liked_items=filter_already_liked_items,
            exclude=None if exclude is None else sp.csr_matrix(exclude[start:stop]),
        )
        rows = np.repeat(np.arange(stop - start), np.diff(lists.indptr))
        because = model.contributors(block, rows, lists.items)
        owned = np.asarray(block[rows, lists.items]).ravel() > 0 if rows.size else (
            np.zeros(0, bool))
        because = np.where(owned, lists.items, because)
        return (np.diff(lists.indptr), lists.items.astype(np.int32),
                lists.scores.astype(np.float32), because.astype(np.int32))

    parts = in_threads(one, range(0, n_users, block_users))  # blocks are independent
    counts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    items_parts = [p[1] for p in parts]
    scores_parts = [p[2] for p in parts]
    because_parts = [p[3] for p in parts]
    indptr = np.r_[0, np.cumsum(counts)]
    return UserRecommendations(
        indptr=indptr.astype(np.int64),
        items=np.concatenate(items_parts) if items_parts else np.zeros(0, np.int32),
        scores=np.concatenate(scores_parts) if scores_parts else np.zeros(0, np.float32),
        because=np.concatenate(because_parts) if because_parts else np.zeros(0, np.int32),
    )
