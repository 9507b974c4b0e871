"""Every model by name, so configuration and saved files can name one.

The top of ``recs.algorithms``: the simple models (``recs.algorithms.simple``), then the
composites made of them (ensemble, blend), then this table with ``create`` and ``load_any``.
The names are those ``recs.algorithms.catalog`` declares; importing this module fails when a
declared algorithm has no class or a class no declaration, so neither goes unnoticed.
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Mapping
from typing import IO, Any

from recs.algorithms import catalog, simple
from recs.algorithms.als import ALSRecommender
from recs.algorithms.base import (
    NaNError,
    NotFittedError,
    RankedLists,
    Recommender,
    RecommenderError,
    read_saved,
)
from recs.algorithms.blend import BlendRecommender
from recs.algorithms.catalog import SEPARATOR
from recs.algorithms.ensemble import EnsembleRecommender, create_part
from recs.algorithms.knn import (
    BM25Recommender,
    CosineRecommender,
    EASERecommender,
    ItemKNN,
    RP3BetaRecommender,
    TFIDFRecommender,
)
from recs.algorithms.popularity import PopularityRecommender, RepurchaseRecommender
from recs.algorithms.simple import instantiate
from recs.algorithms.swing import SwingRecommender

__all__ = [
    "MODELS", "ALSRecommender", "BM25Recommender", "BlendRecommender", "CosineRecommender",
    "EASERecommender", "EnsembleRecommender", "ItemKNN", "NaNError", "NotFittedError",
    "PopularityRecommender", "RP3BetaRecommender", "RankedLists", "Recommender",
    "RecommenderError", "RepurchaseRecommender", "SwingRecommender", "TFIDFRecommender",
    "check", "create", "load_any",
]

COMPOSITES: dict[str, type[Recommender]] = {
    cls.name: cls for cls in (BlendRecommender, EnsembleRecommender)}

# A view of both tables: a simple model added to ``simple.MODELS`` shows here too.
MODELS: Mapping[str, type[Recommender]] = ChainMap(simple.MODELS, COMPOSITES)


def check() -> None:
    """Refuse declarations without a class, classes without a declaration, and a class
    whose declaration is not the one the catalogue holds under its name."""
    declared, built = set(catalog.SPECS), set(MODELS)
    if declared != built:
        raise RecommenderError(
            f"algorithms declared without a class: {sorted(declared - built)}; classes "
            f"without a declaration: {sorted(built - declared)}")
    wrong = sorted(name for name, cls in MODELS.items() if cls.spec is not catalog.SPECS[name])
    if wrong:
        raise RecommenderError(f"classes whose spec is not the catalogue's: {wrong}")


check()


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted model; unknown names and parameters raise ``RecommenderError``.

    ``"a+b"`` names the ensemble of ``a`` and ``b`` (``params`` as for ``"ensemble"``)."""
    if SEPARATOR in name:
        return create_part(name, **params)
    return instantiate(MODELS, name, params)


def load_any(file: str | os.PathLike[str] | IO[bytes] | bytes) -> Recommender:
    """Read any model written by ``save``: the class is named in the file."""
    saved = read_saved(file)
    cls = MODELS.get(saved.name)
    if cls is None:
        raise RecommenderError(f"file holds an unknown algorithm {saved.name!r}")
    return cls.restore(saved)
