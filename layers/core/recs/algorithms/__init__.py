"""Recommendation algorithms behind one contract (see ``recs.algorithms.base``).

numpy and scipy only (they are in the batch Lambda layers); nothing on the API path imports
this package.
"""

from recs.algorithms.als import ALSRecommender
from recs.algorithms.base import (
    NaNError,
    NotFittedError,
    RankedLists,
    Recommender,
    RecommenderError,
)
from recs.algorithms.blend import BlendRecommender
from recs.algorithms.ensemble import EnsembleRecommender
from recs.algorithms.knn import (
    BM25Recommender,
    CosineRecommender,
    EASERecommender,
    ItemKNN,
    RP3BetaRecommender,
    TFIDFRecommender,
    bm25_weight,
    cosine,
    tfidf_weight,
    topk_per_row,
)
from recs.algorithms.popularity import PopularityRecommender, RepurchaseRecommender
from recs.algorithms.registry import MODELS, create, load_any
from recs.algorithms.swing import SwingRecommender, swing

__all__ = [
    "MODELS",
    "ALSRecommender",
    "BM25Recommender",
    "BlendRecommender",
    "CosineRecommender",
    "EASERecommender",
    "EnsembleRecommender",
    "ItemKNN",
    "NaNError",
    "NotFittedError",
    "PopularityRecommender",
    "RP3BetaRecommender",
    "RankedLists",
    "Recommender",
    "RecommenderError",
    "RepurchaseRecommender",
    "SwingRecommender",
    "TFIDFRecommender",
    "bm25_weight",
    "cosine",
    "create",
    "load_any",
    "swing",
    "tfidf_weight",
    "topk_per_row",
]
