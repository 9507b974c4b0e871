"""Every model by name, so configuration and saved files can name one."""

from __future__ import annotations

from typing import Any

from recs.algorithms.als import ALSRecommender
from recs.algorithms.base import Recommender, RecommenderError
from recs.algorithms.blend import BlendRecommender
from recs.algorithms.ensemble import SEPARATOR, EnsembleRecommender, member_names
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
                PopularityRecommender, RepurchaseRecommender, BlendRecommender,
                EnsembleRecommender)
}


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted model; unknown names and parameters raise ``RecommenderError``.

    ``"a+b"`` names the ensemble of ``a`` and ``b`` (``params`` as for ``"ensemble"``)."""
    if SEPARATOR in name:
        params.setdefault("members", member_names(name))
        if list(params["members"]) != member_names(name):
            raise RecommenderError(f"{name}: members {params['members']} contradict the name")
        name = EnsembleRecommender.name
    cls = MODELS.get(name)
    if cls is None:
        raise RecommenderError(f"unknown algorithm {name!r}; known: {sorted(MODELS)}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise RecommenderError(f"{name}: {exc}") from exc
