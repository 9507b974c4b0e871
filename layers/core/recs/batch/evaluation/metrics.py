"""Ranking metrics per user, their means with 95% confidence intervals, paired comparisons.

For a user with relevant set ``R`` (test items) and ranked list ``L`` cut at ``K``:

- ``recall`` = |L ∩ R| / |R|
- ``ndcg`` = DCG / ideal DCG, binary gains, ideal over ``min(K, |R|)`` hits
- ``hit_rate`` = 1 if any of ``L`` is in ``R``
- ``map`` = sum over hit positions k of precision@k, / ``min(K, |R|)``

Relevant items the model never saw count in ``|R|``: a model is not excused for items it
cannot recommend. ``coverage`` is the share of the catalogue appearing in any user's list.
Intervals are normal approximations over users (mean ± 1.96 standard errors); users are the
independent unit, so a paired comparison uses per-user differences on the same users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

METRICS = ("ndcg", "recall", "hit_rate", "map")
Z95 = 1.959963984540054


@dataclass
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {(self.high - self.low) / 2:.4f}"


def estimate(values: np.ndarray) -> Estimate:
    values = np.asarray(values, dtype=np.float64)
    n = int(values.size)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(values.mean())
    half = Z95 * float(values.std(ddof=1)) / np.sqrt(n) if n > 1 else float("nan")
    return Estimate(mean, mean - half, mean + half, n)


def hits_matrix(ranked: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """Boolean (users x K): is ``ranked[u, k]`` (an item index, -1 = empty) relevant to ``u``."""
    ranked = np.asarray(ranked, dtype=np.int64)
    rel = sp.csr_matrix(relevant)
    n_items = rel.shape[1]
    rows = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr))
    keys = rows * n_items + rel.indices
    cand = np.arange(ranked.shape[0], dtype=np.int64)[:, None] * n_items + ranked
    return np.isin(cand, keys) & (ranked >= 0)


def per_user(ranked: np.ndarray, relevant: sp.csr_matrix, n_relevant: np.ndarray,
             k: int) -> dict[str, np.ndarray]:
    """Every metric for every user (rows of ``ranked``); users with no relevant item -> NaN."""
    ranked = np.asarray(ranked)[:, :k]
    if ranked.shape[1] < k:
        pad = np.full((ranked.shape[0], k - ranked.shape[1]), -1, dtype=ranked.dtype)
        ranked = np.hstack([ranked, pad])
    hits = hits_matrix(ranked, relevant).astype(np.float64)
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        ideal_cum = np.r_[0.0, np.cumsum(discount)]
        ideal = ideal_cum[np.minimum(n_rel, k).astype(np.int64)]
        n_hits = hits.sum(axis=1)
        precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
        out = {
            "ndcg": (hits @ discount) / ideal,
            "recall": n_hits / n_rel,
            "hit_rate": (n_hits > 0).astype(np.float64),
            "map": (precision_at * hits).sum(axis=1) / np.minimum(n_rel, k),
        }
    empty = n_rel <= 0
    for values in out.values():
        values[empty] = np.nan
    return out


def coverage(ranked: np.ndarray, n_items: int, k: int) -> float:
    top = np.asarray(ranked)[:, :k]
    top = top[top >= 0]
    return float(np.unique(top).size / n_items) if n_items else 0.0


@dataclass
class Paired:
    mean: float
    low: float
    high: float
    n: int
    wins: int
    losses: int

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "no significant difference"


def paired(a: np.ndarray, b: np.ndarray) -> Paired:
    """``a - b`` per user (NaNs in either dropped): mean difference with a 95% interval."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    both = ~(np.isnan(a) | np.isnan(b))
    d = a[both] - b[both]
    e = estimate(d)
    return Paired(e.mean, e.low, e.high, e.n, int((d > 0).sum()), int((d < 0).sum()))
