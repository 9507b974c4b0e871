"""Ensemble: a weighted sum of several models' scores, each normalised per user.

``score(u, i) = sum_m w_m * s_m(u, i) / max_j s_m(u, j)`` over the members' positive scores.
A neighbourhood model (RP3beta) and a factor model (ALS) make different mistakes: the first
follows what co-occurs with the user's exact items, the second the user's broad taste. On
MovieLens their equal-weight sum beat either alone on the validation folds (the README has
the numbers), and it costs only the two fits.

The name ``"a+b"`` (``RECS_DISCOVERY=rp3beta+als``) builds an ensemble of ``a`` and ``b``.
Reasons and "customers also viewed" come from the first member with an item similarity, so a
recommendation still says which of the shopper's items it follows from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from recs.algorithms import catalog, simple
from recs.algorithms.base import Recommender, RecommenderError
from recs.algorithms.catalog import SEPARATOR, member_names


def create_part(name: str, **params: Any) -> Recommender:
    """A model a composite is made of: a simple model by name, or ``"a+b"``, the ensemble of
    ``a`` and ``b`` (``params`` as for ``"ensemble"``)."""
    if SEPARATOR not in name:
        return simple.create(name, **params)
    catalog.ENSEMBLE.check_names(params)
    params.setdefault("members", member_names(name))
    if list(params["members"]) != member_names(name):
        raise RecommenderError(f"{name}: members {params['members']} contradict the name")
    try:
        return EnsembleRecommender(**params)
    except TypeError as exc:
        raise RecommenderError(f"{EnsembleRecommender.name}: {exc}") from exc


def _normalised_dense(scores: np.ndarray | sp.csr_matrix) -> np.ndarray:
    """Positive scores divided by each row's maximum; everything else 0."""
    dense = (sp.csr_matrix(scores).toarray() if sp.issparse(scores)
             else np.array(scores, dtype=np.float32))
    dense = np.where(np.isfinite(dense) & (dense > 0), dense, 0).astype(np.float32)
    top = dense.max(axis=1, keepdims=True, initial=0.0)
    return np.divide(dense, top, out=np.zeros_like(dense), where=top > 0)


class EnsembleRecommender(Recommender):
    """Weighted sum of row-max-normalised member scores."""

    spec = catalog.ENSEMBLE

    def __init__(self, members: Sequence[str] = ("rp3beta", "als"),
                 weights: Sequence[float] | None = None,
                 member_params: dict[str, dict[str, Any]] | None = None) -> None:
        names = list(members)
        if len(names) < 2 or len(set(names)) != len(names):
            raise RecommenderError(f"an ensemble needs two or more distinct members, got {names}")
        bad = [n for n in names if SEPARATOR in n
               or (n in catalog.SPECS and not catalog.SPECS[n].discovery)]
        if bad:
            raise RecommenderError(
                f"ensemble members must be single models that find new items, got {bad}")
        w = [1.0 / len(names)] * len(names) if weights is None else [float(v) for v in weights]
        if len(w) != len(names) or any(not np.isfinite(v) or v < 0 for v in w) or sum(w) <= 0:
            raise RecommenderError(
                f"ensemble weights must be {len(names)} non-negative numbers, got {w}")
        params = dict(member_params or {})
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise RecommenderError(f"member_params names models not in the ensemble: {unknown}")
        self.member_names = names
        self.weights = [v / sum(w) for v in w]
        self.members: list[Recommender] = [
            simple.create(n, **params.get(n, {})) for n in names]

    def get_params(self) -> dict[str, Any]:
        return {"members": self.member_names, "weights": self.weights,
                "member_params": {n: m.get_params()
                                  for n, m in zip(self.member_names, self.members, strict=True)}}

    def _fit(self, user_items: sp.csr_matrix) -> None:
        for member in self.members:
            member.fit(user_items, sessions=self.fit_sessions)

    def _score(self, user_items: sp.csr_matrix, n: int) -> np.ndarray:
        total = np.zeros(user_items.shape, dtype=np.float32)
        for weight, member in zip(self.weights, self.members, strict=True):
            if weight > 0:
                total += np.float32(weight) * _normalised_dense(member._score(user_items, n))
        total[total <= 0] = -np.inf  # no member found it: not a candidate
        return total

    @property
    def neighbourhood(self) -> Recommender | None:
        """The first member with item neighbours (reasons and similar items come from it)."""
        return next((m for m in self.members if m.spec.similarity), None)

    def item_similarity(self) -> sp.csr_matrix | None:
        member = self.neighbourhood
        return None if member is None else member.item_similarity()

    @property
    def similarity(self) -> sp.csr_matrix:
        """``item_similarity()``, refusing an ensemble without a neighbourhood member."""
        found = self.item_similarity()
        if found is None:
            raise RecommenderError(f"no member of {self.member_names} has an item similarity")
        return found

    def _similar(self, itemids: np.ndarray) -> np.ndarray | sp.csr_matrix:
        return (self.neighbourhood or self.members[0])._similar(itemids)

    def contributors(
        self, user_items: sp.csr_matrix, rows: np.ndarray, items: np.ndarray
    ) -> np.ndarray:
        return (self.neighbourhood or self.members[0]).contributors(user_items, rows, items)

    def _arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for index, member in enumerate(self.members):
            out.update({f"m{index}__{k}": v for k, v in member._arrays().items()})
        return out

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for index, member in enumerate(self.members):
            prefix = f"m{index}__"
            member.n_items = self.n_items
            member._set_arrays({k[len(prefix):]: v for k, v in arrays.items()
                                if k.startswith(prefix)})
