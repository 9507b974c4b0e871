"""Blend: the user's own history (repurchase) mixed with discovery (an item-item model).

``score(u, i) = b_i * r(u, i) / max_u r + (1 - b_i) * n(u, i)`` with
``n(u, i) = (1 - p) * d(u, i) / max_u d + p * pop(i) / max pop``, where ``r`` is the repurchase
score (history weight: weighted count x recency), ``d`` the discovery model's score over items
new to the user, ``pop`` global popularity (users per item: a prior that rescues sparse data,
where co-occurrence is mostly noise), and ``b_i`` the repeat weight of item ``i``'s category.

On consumables most next purchases are repeats and ``b`` is high; on durables repeats are
useless and ``b`` near 0 turns the blend into the discovery model. The weights come from data:
``recs.batch.evaluation.tuning.repeat_weights`` measures, per category, how often a user's next
interactions are with items already in their history (shrunk towards the global share when a
category has few observations), and the tuning grid picks the global weight; a shop may also
set them (``RECS_BLEND_WEIGHT``, ``RECS_BLEND_CATEGORY_WEIGHTS``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.algorithms import catalog
from recs.algorithms.base import Recommender, RecommenderError, _mask_out
from recs.algorithms.catalog import SEPARATOR
from recs.algorithms.ensemble import create_part
from recs.algorithms.kernels import rank as kernel
from recs.algorithms.popularity import _constant_rows


def _row_max_normalise(m: sp.csr_matrix) -> sp.csr_matrix:
    m = sp.csr_matrix(m, dtype=np.float32)
    if m.nnz == 0:
        return m
    top = np.maximum.reduceat(m.data, m.indptr[:-1][np.diff(m.indptr) > 0])
    scale = np.ones(m.shape[0], np.float32)
    scale[np.diff(m.indptr) > 0] = np.where(top > 0, top, np.float32(1.0))
    m.data = (m.data / np.repeat(scale, np.diff(m.indptr))).astype(np.float32)
    return m


def _joined(repeat: sp.csr_matrix, found: sp.csr_matrix) -> sp.csr_matrix:
    blended = sp.csr_matrix(repeat + found)
    blended.eliminate_zeros()
    return blended


class BlendRecommender(Recommender):
    """Repurchase + discovery with a per-item (per-category) repeat weight."""

    spec = catalog.BLEND

    def __init__(self, weight: float = 0.5, discovery: str = "cosine",
                 discovery_params: dict[str, Any] | None = None,
                 popularity: float = 0.0) -> None:
        if not 0.0 <= weight <= 1.0:
            raise RecommenderError(f"blend weight must lie in [0, 1], got {weight}")
        if not 0.0 <= popularity <= 1.0:
            raise RecommenderError(f"blend popularity must lie in [0, 1], got {popularity}")
        self.popularity = float(popularity)
        self.item_popularity = np.zeros(0, np.float32)
        if (SEPARATOR not in discovery and discovery in catalog.SPECS
                and not catalog.SPECS[discovery].discovery):
            raise RecommenderError(f"discovery must be a model of new items, not {discovery!r}")
        self.weight = float(weight)
        self.discovery_name = discovery
        self.discovery_params = dict(discovery_params or {})
        self.discovery: Recommender = create_part(discovery, **self.discovery_params)
        self.item_weight = np.zeros(0, np.float32)
        self._popular_order: np.ndarray | None = None  # items by popularity, made when needed

    def get_params(self) -> dict[str, Any]:
        return {"weight": self.weight, "discovery": self.discovery_name,
                "discovery_params": self.discovery.get_params(), "popularity": self.popularity}

    def set_item_weight(self, item_weight: np.ndarray | None) -> None:
        """One repeat weight per item (e.g. from per-category repeat shares); None gives
        every item the global ``weight``."""
        self._check_fitted()
        if item_weight is None:
            self.item_weight = np.full(self.n_items, self.weight, dtype=np.float32)
        else:
            w = np.asarray(item_weight, dtype=np.float32)
            if w.shape != (self.n_items,):
                raise RecommenderError(
                    f"item_weight has shape {w.shape}, expected ({self.n_items},)")
            if not np.isfinite(w).all() or (w < 0).any() or (w > 1).any():
                raise RecommenderError("item_weight values must be finite and lie in [0, 1]")
            self.item_weight = w

    def _fit(self, user_items: sp.csr_matrix) -> None:
        self.discovery.fit(user_items, sessions=self.fit_sessions)
        counts = np.bincount(user_items.indices[user_items.data > 0],
                             minlength=user_items.shape[1]).astype(np.float32)
        self.item_popularity = counts / max(float(counts.max(initial=0)), 1.0)
        self._popular_order = None

    def _kernel_scoring(self) -> kernel.Scoring | None:
        inner = self.discovery._kernel_scoring()
        if inner is None or inner.blend is not None:
            return None
        if self._popular_order is None or self._popular_order.size != self.n_items:
            self._popular_order = np.argsort(-self.item_popularity, kind="stable").astype(
                np.int32)
        return kernel.Scoring(inner.similarity, kernel.Blend(
            self.item_weight, self.item_popularity, self.popularity, self._popular_order))

    def _score(self, user_items: sp.csr_matrix, n: int) -> sp.csr_matrix:
        repeat, found, _ = self._parts(user_items, n)
        return _joined(repeat, found)

    def _masked_score(self, user_items: sp.csr_matrix, n: int, mask: sp.csr_matrix | None,
                      filter_items: np.ndarray | None) -> np.ndarray | sp.csr_matrix:
        """The repeat part holds the user's history and the discovery part none of it, so a
        mask within the history (the bought items the batch excludes, or the whole history)
        is taken out of the small repeat part instead of the whole block of scores."""
        if mask is None or filter_items is not None:
            return super()._masked_score(user_items, n, mask, filter_items)
        repeat, found, owned = self._parts(user_items, n)
        hit = sp.csr_matrix(mask, dtype=bool, copy=True)  # eliminate_zeros must not touch mask
        hit.eliminate_zeros()
        if hit.multiply(owned).nnz < hit.nnz:  # cells outside the history
            return _mask_out(_joined(repeat, found), mask, None)
        return _joined(_mask_out(repeat, hit, None), found)

    def _parts(self, user_items: sp.csr_matrix, n: int,
               ) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
        """The repeat part (the user's history, scaled) and the discovery part (none of the
        history), each column weighted by its item's repeat or discovery weight, and the
        history's cells (boolean)."""
        history = sp.csr_matrix(user_items, copy=True)
        history.data = np.clip(history.data, 0, None)
        history.eliminate_zeros()
        repeat = _row_max_normalise(history)
        found = self.discovery._score(history, n + int(np.diff(history.indptr).max(initial=0)))
        if isinstance(found, np.ndarray):
            found = sp.csr_matrix(np.where(np.isfinite(found) & (found > 0), found, 0))
        owned = history.astype(bool)
        found = sp.csr_matrix(found, dtype=np.float32)
        found = sp.csr_matrix(found - found.multiply(owned))
        found.data = np.clip(found.data, 0, None)
        found.eliminate_zeros()
        found = _row_max_normalise(found)
        if self.popularity > 0:
            wanted = n + int(np.diff(history.indptr).max(initial=0))
            popular = _constant_rows(self.item_popularity, history.shape[0], wanted)
            popular = sp.csr_matrix(popular - popular.multiply(owned))
            found = sp.csr_matrix(found * (1.0 - self.popularity) + popular * self.popularity)
            found.eliminate_zeros()
        # Each column scaled by its item's repeat weight (b) or discovery weight (1 - b), in
        # place: products with a diagonal matrix cost two conversions and a sparse product
        # per block.
        b = self.item_weight
        repeat.data *= b[repeat.indices]
        found.data *= (1.0 - b)[found.indices]
        return repeat, found, owned

    def _similar(self, itemids: np.ndarray) -> np.ndarray | sp.csr_matrix:
        return self.discovery._similar(itemids)

    def _block_users(self) -> int:
        return self.discovery._block_users()  # the repeat part is always sparse

    def contributors(
        self, user_items: sp.csr_matrix, rows: np.ndarray, items: np.ndarray
    ) -> np.ndarray:
        """A repeat names the item itself; a new item names its strongest neighbour."""
        x = sp.csr_matrix(user_items)
        picked = x[rows, items]  # scipy may return a 1 x n sparse matrix for short inputs
        owned = (np.asarray(picked.todense()) if sp.issparse(picked)
                 else np.asarray(picked)).ravel() > 0
        because = np.empty(rows.size, dtype=np.int32)
        because[owned] = items[owned]
        new = ~owned
        if new.any():
            because[new] = self.discovery.contributors(x, rows[new], items[new])
        return because

    def item_similarity(self) -> sp.csr_matrix | None:
        return self.discovery.item_similarity()

    def _arrays(self) -> dict[str, np.ndarray]:
        inner = {f"discovery__{k}": v for k, v in self.discovery._arrays().items()}
        return {"item_weight": self.item_weight, "item_popularity": self.item_popularity,
                **inner}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_weight = arrays["item_weight"]
        self.item_popularity = arrays["item_popularity"]
        self._popular_order = None
        prefix = "discovery__"
        self.discovery.n_items = self.n_items
        self.discovery._set_arrays(
            {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
