"""Swing (Alibaba, Yang et al. 2020): item similarity from pairs of users who share items.

``swing(i, j) = sum over user pairs u != v who both have i and j of
w_u * w_v / (alpha + |I_u & I_v|)``, with ``w_u = (|I_u| + user_alpha) ** -user_power``.
Two users who share little besides ``i`` and ``j`` are strong evidence that ``i`` and ``j``
belong together; two users who share everything (bots, heavy users) are weak evidence.

Computed without a Python loop over items: every user pair of every item (each item's users
capped at ``max_users_per_item``, the heaviest kept, as production Swing does) is generated
in chunks; pairs that share at least two items form the rows of a sparse matrix ``Z`` (one row
per pair, its shared items as columns), and ``swing = Z.T @ diag(W) @ Z`` is the same blocked
top-K product as cosine. Pair overlaps are counted on the capped lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.algorithms import catalog
from recs.algorithms.base import RecommenderError
from recs.algorithms.knn import ItemKNN, blocked_topk_product, topk_per_row

PAIR_CHUNK = 8_000_000  # grid cells generated per chunk of items


def user_pairs(item_users: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Every (user pair key, item) with both users on the item; key = u * n_users + v, u < v."""
    n_users = item_users.shape[1]
    degree = np.diff(item_users.indptr).astype(np.int64)
    items = np.flatnonzero(degree >= 2)
    cells = degree[items] ** 2
    chunk_of = (np.cumsum(cells) - cells) // PAIR_CHUNK
    keys, owners = [], []
    for chunk in np.unique(chunk_of):
        its = items[chunk_of == chunk]
        d = degree[its]
        size = d * d
        offsets = np.cumsum(size) - size
        item_rep = np.repeat(its, size)
        d_rep = np.repeat(d, size)
        e = np.arange(int(size.sum()), dtype=np.int64) - np.repeat(offsets, size)
        a, b = e // d_rep, e % d_rep
        upper = a < b
        item_rep, a, b = item_rep[upper], a[upper], b[upper]
        base = item_users.indptr[item_rep]
        ua = item_users.indices[base + a].astype(np.int64)
        ub = item_users.indices[base + b].astype(np.int64)
        lo, hi = np.minimum(ua, ub), np.maximum(ua, ub)
        keys.append(lo * n_users + hi)
        owners.append(item_rep)
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(keys), np.concatenate(owners)


def swing(
    user_items: sp.csr_matrix,
    neighbours: int,
    alpha: float = 1.0,
    user_alpha: float = 5.0,
    user_power: float = 0.35,
    max_users_per_item: int = 100,
) -> sp.csr_matrix:
    """Items x items Swing similarity, top-``neighbours`` per row, no diagonal."""
    x = sp.csr_matrix(user_items, dtype=np.float32)
    n_users, n_items = x.shape
    item_users = topk_per_row(sp.csr_matrix(x.T), max_users_per_item)
    item_users.sort_indices()
    keys, owners = user_pairs(item_users)
    if keys.size == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    pair_keys, pair_row, overlap = np.unique(keys, return_inverse=True, return_counts=True)
    shared = overlap[pair_row] >= 2  # a pair sharing one item links no two items
    pair_row, owners = pair_row[shared], owners[shared]
    used, pair_row = np.unique(pair_row, return_inverse=True)
    pair_keys, overlap = pair_keys[used], overlap[used]
    user_count = np.diff(x.indptr).astype(np.float64)
    user_weight = (user_count + user_alpha) ** -user_power
    u, v = pair_keys // n_users, pair_keys % n_users
    pair_weight = user_weight[u] * user_weight[v] / (alpha + overlap)
    z = sp.csr_matrix(
        (np.ones(pair_row.size, np.float32), (pair_row, owners)), shape=(used.size, n_items)
    )
    weighted = sp.csr_matrix(sp.diags(pair_weight.astype(np.float32)) @ z)
    return blocked_topk_product(sp.csr_matrix(z.T), weighted, neighbours)


class SwingRecommender(ItemKNN):
    """Item-item on Swing similarity; scores like the other neighbourhood models."""

    spec = catalog.SWING

    def __init__(self, neighbours: int = 50, alpha: float = 1.0, user_alpha: float = 5.0,
                 user_power: float = 0.35, max_users_per_item: int = 100) -> None:
        super().__init__(neighbours)
        if alpha <= 0 or user_alpha < 0 or user_power < 0 or max_users_per_item < 2:
            raise RecommenderError(
                "swing needs alpha > 0, user_alpha >= 0, user_power >= 0 and "
                f"max_users_per_item >= 2, got {alpha}, {user_alpha}, {user_power}, "
                f"{max_users_per_item}"
            )
        self.alpha, self.user_alpha = float(alpha), float(user_alpha)
        self.user_power = float(user_power)
        self.max_users_per_item = int(max_users_per_item)

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "alpha": self.alpha, "user_alpha": self.user_alpha,
                "user_power": self.user_power, "max_users_per_item": self.max_users_per_item}

    def compute_similarity(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        return swing(user_items, self.neighbours, self.alpha, self.user_alpha,
                     self.user_power, self.max_users_per_item)
