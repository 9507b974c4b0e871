"""Every simple model (one that is not made of other models) by name.

A new simple algorithm is its class (in a module of its own or beside its kin), its
declaration in ``recs.algorithms.catalog.SPECS``, and its line here.

The composites sit above this table: an ensemble's members and a blend's discovery part are
made from it, and ``recs.algorithms.registry`` adds the composites on top. Keeping the simple
models a layer below the composites is what lets them be built by name without an import
cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from recs.algorithms.sknn import SessionKNNRecommender, SessionsKNNRecommender
from recs.algorithms.swing import SwingRecommender

MODELS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (CosineRecommender, BM25Recommender, TFIDFRecommender, SwingRecommender,
                RP3BetaRecommender, EASERecommender, ALSRecommender,
                PopularityRecommender, RepurchaseRecommender, SessionKNNRecommender,
                SessionsKNNRecommender)
}


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted simple model; unknown names and parameters (any its declaration does
    not name) raise ``RecommenderError``."""
    return instantiate(MODELS, name, params)


def instantiate(models: Mapping[str, type[Recommender]], name: str,
                params: dict[str, Any]) -> Recommender:
    """``models[name](**params)``, refusing an unknown name or a parameter its declaration
    does not name with a ``RecommenderError`` that says which."""
    cls = models.get(name)
    if cls is None:
        raise RecommenderError(f"unknown algorithm {name!r}; known: {sorted(models)}")
    cls.spec.check_names(params)
    try:
        return cls(**params)
    except TypeError as exc:
        raise RecommenderError(f"{name}: {exc}") from exc
