"""Session kNN: recommend what the most similar past sessions (or shoppers) went on to touch.

In the session-based recommendation literature (Jannach & Ludewig 2017; Ludewig et al.
2021) this nearest-neighbour family matches or beats neural models, and it needs no more
than the current session: a shopper with two or three events has a neighbourhood as soon as
those events overlap anyone else's, where an item-item model sees only each item alone and
a factor model has no factors for them.

``fit`` takes rows x items: past sessions (baskets) or whole shopper histories, whatever the
caller has; the weights of a row give its recency (the batch's time decay). A query row is
the current session with its own weights: recent and later-positioned items weigh more when
the caller weights them so (``position_weights``). Scoring, for a query ``q``:

- ``sim(q, s)`` is the cosine of ``q`` and each stored row ``s`` on the rows' item sets
  (binary), times the row's recency (its largest weight relative to the model's largest)
  raised to ``recency``;
- only the ``neighbours`` most similar rows are kept;
- ``score(q, j) = sum_s sim(q, s) [j in s] / pop(j) ** beta``: ``beta`` > 0 divides out the
  item's popularity (rows holding it), as RP3beta does, so a popular item must earn its place.

``similar_items`` is the same with a query of one item. numpy and scipy only.

Two models: ``sknn`` stores the shoppers' histories (the users x items matrix it is fitted
on) and ``sknn_sessions`` the window's sessions (``recs.batch.sessions``), queried with the
same users' histories. A short history is mostly one visit: the sessions like it are focused
on it, where a whole shopper's history spreads over everything they ever touched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.algorithms import catalog
from recs.algorithms.base import Recommender, RecommenderError
from recs.algorithms.knn import topk_per_row


def position_weights(length: int, decay: float) -> np.ndarray:
    """Weights of a session's ``length`` events, oldest first: the last weighs 1 and each
    step back multiplies by ``decay`` (1.0: all equal). The usual choice in the literature is
    a linear or harmonic fall; a geometric one keeps the weights positive for any length."""
    if not 0.0 < decay <= 1.0:
        raise RecommenderError(f"decay must lie in (0, 1], got {decay}")
    steps_back = np.arange(length - 1, -1, -1, dtype=np.float64)
    return np.power(decay, steps_back).astype(np.float32)


def _unit_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ m, dtype=np.float32)


class SessionKNNRecommender(Recommender):
    """Session-based nearest neighbours over stored rows (sessions or shoppers)."""

    name = "sknn"
    spec = catalog.SKNN
    sparse_scores = True

    def __init__(self, neighbours: int = 200, beta: float = 0.0, recency: float = 1.0) -> None:
        if int(neighbours) < 1:
            raise RecommenderError(f"neighbours must be >= 1, got {neighbours}")
        if beta < 0 or recency < 0:
            raise RecommenderError(f"sknn needs beta >= 0 and recency >= 0, got {beta}, "
                                   f"{recency}")
        self.neighbours = int(neighbours)
        self.beta, self.recency = float(beta), float(recency)
        self.rows: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)  # binary
        self.row_weight = np.zeros(0, dtype=np.float32)
        self.penalty = np.zeros(0, dtype=np.float32)

    def get_params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "beta": self.beta, "recency": self.recency}

    def _fit(self, user_items: sp.csr_matrix) -> None:
        x = sp.csr_matrix(user_items, dtype=np.float32, copy=True)
        x.data = np.clip(x.data, 0, None)
        x.eliminate_zeros()
        peak = np.zeros(x.shape[0], dtype=np.float32)
        filled = np.flatnonzero(np.diff(x.indptr))
        if filled.size:
            peak[filled] = np.maximum.reduceat(x.data, x.indptr[filled])
        top = float(peak.max(initial=0.0))
        self.row_weight = (peak / top if top > 0 else peak).astype(np.float32)
        binary = sp.csr_matrix((np.ones(x.nnz, np.float32), x.indices, x.indptr), shape=x.shape)
        self.rows = binary
        popularity = np.bincount(binary.indices, minlength=binary.shape[1]).astype(np.float32)
        self.penalty = np.power(np.maximum(popularity, 1.0), -self.beta).astype(np.float32)

    def _neighbourhood_scores(self, queries: sp.csr_matrix) -> sp.csr_matrix:
        q = _unit_rows(sp.csr_matrix(queries, dtype=np.float32))
        stored = _unit_rows(self.rows)
        sims = sp.csr_matrix(q @ stored.T)
        if self.recency > 0 and sims.nnz:
            sims.data *= np.power(self.row_weight[sims.indices], self.recency)
        sims.eliminate_zeros()
        near = topk_per_row(sims, self.neighbours)
        scores = sp.csr_matrix(near @ self.rows)
        if self.beta > 0 and scores.nnz:
            scores.data *= self.penalty[scores.indices]
        return scores

    def _score(self, user_items: sp.csr_matrix, n: int) -> sp.csr_matrix:
        return self._neighbourhood_scores(user_items)

    def _similar(self, itemids: np.ndarray) -> sp.csr_matrix:
        one = sp.csr_matrix((np.ones(itemids.size, np.float32),
                             (np.arange(itemids.size), itemids)),
                            shape=(itemids.size, self.n_items))
        return self._neighbourhood_scores(one)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"rows_indptr": self.rows.indptr, "rows_indices": self.rows.indices,
                "row_weight": self.row_weight, "penalty": self.penalty}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        indptr, indices = arrays["rows_indptr"], arrays["rows_indices"]
        self.rows = sp.csr_matrix((np.ones(indices.size, np.float32), indices, indptr),
                                  shape=(indptr.size - 1, self.n_items))
        self.row_weight = arrays["row_weight"].astype(np.float32)
        self.penalty = arrays["penalty"].astype(np.float32)


class SessionsKNNRecommender(SessionKNNRecommender):
    """The same neighbourhood over the window's sessions (``fit(..., sessions=)``)."""

    spec = catalog.SKNN_SESSIONS
