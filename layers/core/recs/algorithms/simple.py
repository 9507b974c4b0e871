"""Every simple model (one that is not made of other models) by name.

The composites sit above this table: an ensemble's members and a blend's discovery part are
made from it, and ``recs.algorithms.registry`` adds the composites on top. Keeping the simple
models a layer below the composites is what lets them be built by name without an import
cycle.
"""

from __future__ import annotations

from typing import Any

from recs.algorithms.als import ALSRecommender
from recs.algorithms.base import Recommender, RecommenderError
from recs.algorithms.knn import (
    BM25Recommender,
    CosineRecommender,
    EASERecommender,
    RP3BetaRecommender,
    TFIDFRecommender,
)
from recs.algorithms.popularity import PopularityRecommender, RepurchaseRecommender
from recs.algorithms.swing import SwingRecommender

MODELS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (CosineRecommender, BM25Recommender, TFIDFRecommender, SwingRecommender,
                RP3BetaRecommender, EASERecommender, ALSRecommender,
                PopularityRecommender, RepurchaseRecommender)
}


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted simple model; unknown names and parameters raise ``RecommenderError``."""
    cls = MODELS.get(name)
    if cls is None:
        raise RecommenderError(f"unknown algorithm {name!r}; known: {sorted(MODELS)}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise RecommenderError(f"{name}: {exc}") from exc
