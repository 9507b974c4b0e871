"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008), numpy only.

Alternating least squares with a few conjugate-gradient steps per side (Takacs et al. 2011,
as ``implicit``'s ``AlternatingLeastSquares`` with ``use_cg``), vectorised over all users (or
items) of a block at once: confidence ``c = 1 + alpha * w``, preference 1 on every stored
pair. Only the item factors are kept; a user's factors are folded in from their history row
at scoring time (one CG solve), so like the item-item models it scores any history row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.algorithms import catalog
from recs.algorithms.base import Recommender, RecommenderError

RELATIVE_FLOOR = 0.1  # candidates score at least this share of the user's best
BLOCK_NNZ = 1_000_000  # stored pairs per block (their factor rows: nnz x factors floats)


def _solve(c: sp.csr_matrix, y: np.ndarray, x: np.ndarray, reg: float,
           steps: int) -> np.ndarray:
    """A few CG steps on ``(Y'Y + reg I + Y' (C_u - I) Y) x_u = Y' C_u 1`` for every row."""
    yty = (y.T @ y).astype(np.float32) + np.float32(reg) * np.eye(y.shape[1], dtype=np.float32)
    out = np.empty_like(x)
    nnz_before = c.indptr[:-1]
    starts = np.r_[0, np.flatnonzero(np.diff(nnz_before // BLOCK_NNZ)) + 1]
    stops = np.r_[starts[1:], c.shape[0]]
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        block = c[start:stop]
        rows = np.repeat(np.arange(stop - start), np.diff(block.indptr))
        cols, extra = block.indices, block.data.astype(np.float32)  # c - 1
        yc = y[cols]

        def times_a(p: np.ndarray, rows: np.ndarray = rows, cols: np.ndarray = cols,
                    extra: np.ndarray = extra, yc: np.ndarray = yc,
                    shape: tuple[int, int] = block.shape) -> np.ndarray:
            d = np.einsum("nf,nf->n", yc, p[rows])
            return p @ yty + sp.csr_matrix((extra * d, (rows, cols)), shape=shape) @ y

        b = sp.csr_matrix((extra + 1.0, (rows, cols)), shape=block.shape) @ y
        xb = x[start:stop].copy()
        r = b - times_a(xb)
        p = r.copy()
        rs = np.einsum("nf,nf->n", r, r)
        for _ in range(steps):
            ap = times_a(p)
            step = rs / np.maximum(np.einsum("nf,nf->n", p, ap), 1e-20)
            xb += step[:, None] * p
            r -= step[:, None] * ap
            rs_new = np.einsum("nf,nf->n", r, r)
            p = r + (rs_new / np.maximum(rs, 1e-20))[:, None] * p
            rs = rs_new
        out[start:stop] = xb
    return out


class ALSRecommender(Recommender):
    """Implicit ALS with conjugate gradient (numpy); scores are user x item factor dots."""

    spec = catalog.ALS

    def __init__(self, factors: int = 64, regularization: float = 0.01, alpha: float = 1.0,
                 iterations: int = 15, cg_steps: int = 3, seed: int = 42) -> None:
        if int(factors) < 1 or int(iterations) < 1 or int(cg_steps) < 1:
            raise RecommenderError("als needs factors, iterations and cg_steps >= 1")
        if regularization < 0 or alpha <= 0:
            raise RecommenderError(
                f"als needs regularization >= 0 and alpha > 0, got {regularization}, {alpha}")
        self.factors, self.iterations, self.cg_steps = int(factors), int(iterations), int(
            cg_steps)
        self.regularization, self.alpha, self.seed = float(regularization), float(alpha), int(
            seed)
        self.item_factors = np.zeros((0, self.factors), np.float32)

    def get_params(self) -> dict[str, Any]:
        return {"factors": self.factors, "regularization": self.regularization,
                "alpha": self.alpha, "iterations": self.iterations, "cg_steps": self.cg_steps,
                "seed": self.seed}

    def _confidence(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        c = sp.csr_matrix(user_items, dtype=np.float32, copy=True)
        c.data = np.clip(c.data, 0, None) * np.float32(self.alpha)
        c.eliminate_zeros()
        return c

    def _fit(self, user_items: sp.csr_matrix) -> None:
        rng = np.random.default_rng(self.seed)
        c = self._confidence(user_items)
        ct = sp.csr_matrix(c.T)
        users = (rng.random((c.shape[0], self.factors), dtype=np.float32) * 0.01)
        items = (rng.random((c.shape[1], self.factors), dtype=np.float32) * 0.01)
        for _ in range(self.iterations):
            users = _solve(c, items, users, self.regularization, self.cg_steps)
            items = _solve(ct, users, items, self.regularization, self.cg_steps)
        if not np.isfinite(items).all():
            raise RecommenderError("als diverged (non-finite factors)")
        self.item_factors = items.astype(np.float32)

    def user_factors(self, user_items: sp.csr_matrix) -> np.ndarray:
        c = self._confidence(user_items)
        start = np.zeros((c.shape[0], self.factors), np.float32)
        return _solve(c, self.item_factors, start, self.regularization, self.cg_steps)

    def _score(self, user_items: sp.csr_matrix, n: int) -> np.ndarray:
        scores = self.user_factors(user_items) @ self.item_factors.T
        empty = np.diff(sp.csr_matrix(user_items).indptr) == 0
        scores[empty] = -np.inf  # no history: no personal candidates
        # A candidate needs a clearly positive predicted preference: at least a tenth of the
        # user's best (scores near 0 are predicted non-preferences, not weak candidates).
        top = np.max(scores, axis=1, initial=0.0, where=np.isfinite(scores))
        scores[~(scores >= RELATIVE_FLOOR * top[:, None]) | ~(scores > 0)] = -np.inf
        return scores

    def _similar(self, itemids: np.ndarray) -> np.ndarray:
        v = self.item_factors
        norms = np.linalg.norm(v, axis=1)
        norms[norms == 0] = 1.0
        sims = (v[itemids] @ v.T) / norms[itemids, None] / norms[None, :]
        sims[np.arange(itemids.size), itemids] = -np.inf
        return sims

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_factors": self.item_factors}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
