"""Non-personalised and history-only models: global popularity and repurchase.

``PopularityRecommender`` ranks every item by how many users had it (or by summed weight).
``RepurchaseRecommender`` ranks the user's own history by its weight, which the nightly
weighting already makes "weighted count x recency" (event weights summed with exponential
time decay); it is the strong baseline on consumable goods, where most next purchases are
repeats, and useless on durable goods.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.algorithms import catalog
from recs.algorithms.base import Recommender, RecommenderError


def _constant_rows(scores: np.ndarray, rows: int, n: int) -> sp.csr_matrix:
    """The ``n`` best of one score vector, as the same sparse row for ``rows`` users."""
    n = min(n, scores.size)
    top = np.argsort(-scores, kind="stable")[:n]
    top = top[scores[top] > 0]
    indptr = np.arange(rows + 1, dtype=np.int64) * top.size
    return sp.csr_matrix(
        (np.tile(scores[top], rows).astype(np.float32), np.tile(top, rows), indptr),
        shape=(rows, scores.size),
    )


class PopularityRecommender(Recommender):
    """Global popularity: users per item (``by="users"``) or summed weight (``"weight"``)."""

    spec = catalog.POPULARITY
    sparse_scores = True

    def __init__(self, by: str = "users") -> None:
        if by not in ("users", "weight"):
            raise RecommenderError(f"by must be 'users' or 'weight', got {by!r}")
        self.by = by
        self.popularity = np.zeros(0, np.float32)

    def get_params(self) -> dict[str, Any]:
        return {"by": self.by}

    def _fit(self, user_items: sp.csr_matrix) -> None:
        if self.by == "users":
            counts = np.bincount(user_items.indices[user_items.data > 0],
                                 minlength=user_items.shape[1])
        else:
            counts = np.asarray(user_items.sum(axis=0)).ravel()
        self.popularity = counts.astype(np.float32)

    def _score(self, user_items: sp.csr_matrix, n: int) -> sp.csr_matrix:
        return _constant_rows(self.popularity, user_items.shape[0], n)

    def _similar(self, itemids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (itemids.size, self.n_items)).copy()

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.popularity = arrays["popularity"]


class RepurchaseRecommender(Recommender):
    """The user's own history, ranked by its weight (weighted count and recency).

    Recommending with ``filter_already_liked_items=True`` leaves nothing by construction; use
    ``False``. ``similar_items`` falls back to popularity, since history says nothing about
    item pairs. The reason for each item is the item itself.
    """

    spec = catalog.REPURCHASE
    sparse_scores = True

    def __init__(self) -> None:
        self.popularity = np.zeros(0, np.float32)

    def _fit(self, user_items: sp.csr_matrix) -> None:
        self.popularity = np.bincount(
            user_items.indices[user_items.data > 0], minlength=user_items.shape[1]
        ).astype(np.float32)

    def _score(self, user_items: sp.csr_matrix, n: int) -> sp.csr_matrix:
        history = sp.csr_matrix(user_items, copy=True)
        history.data = np.where(history.data > 0, history.data, 0).astype(np.float32)
        history.eliminate_zeros()
        return history

    def _similar(self, itemids: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (itemids.size, self.n_items)).copy()

    def contributors(
        self, user_items: sp.csr_matrix, rows: np.ndarray, items: np.ndarray
    ) -> np.ndarray:
        return items.astype(np.int32)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.popularity = arrays["popularity"]
