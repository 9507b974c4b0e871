"""Trending lists, globally and per category, from recent decayed popularity."""

from __future__ import annotations

import numpy as np


def top_items(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` best-scoring items with a positive score, best first."""
    candidates = np.flatnonzero(scores > 0)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:n]]


def by_category(
    scores: np.ndarray, categories: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    """The top-``n`` items of every non-empty category and of each of its parent paths.

    A category like ``electronics/phones`` also feeds ``electronics``, so trending for a
    parent is never empty when one of its children has sales.
    """
    members: dict[str, list[int]] = {}
    for index, category in enumerate(categories.tolist()):
        if not category:
            continue
        parts = category.split("/")
        for depth in range(1, len(parts) + 1):
            members.setdefault("/".join(parts[:depth]), []).append(index)
    result = {}
    for category, indices in members.items():
        idx = np.asarray(indices, dtype=np.int64)
        best = top_items(scores[idx], n)
        if best.size:
            result[category] = idx[best]
    return result
