"""Every model by name, so configuration and saved files can name one.

The top of ``recs.algorithms``: the simple models (``recs.algorithms.simple``), then the
composites made of them (ensemble, blend), then this table with ``create`` and ``load_any``.
"""

from __future__ import annotations

import os
from typing import IO, Any

from recs.algorithms import simple
from recs.algorithms.base import Recommender, RecommenderError, read_saved
from recs.algorithms.blend import BlendRecommender
from recs.algorithms.ensemble import SEPARATOR, EnsembleRecommender, create_part

MODELS: dict[str, type[Recommender]] = {
    **simple.MODELS,
    BlendRecommender.name: BlendRecommender,
    EnsembleRecommender.name: EnsembleRecommender,
}


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted model; unknown names and parameters raise ``RecommenderError``.

    ``"a+b"`` names the ensemble of ``a`` and ``b`` (``params`` as for ``"ensemble"``)."""
    if SEPARATOR in name:
        return create_part(name, **params)
    cls = MODELS.get(name)
    if cls is None:
        raise RecommenderError(f"unknown algorithm {name!r}; known: {sorted(MODELS)}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise RecommenderError(f"{name}: {exc}") from exc


def load_any(file: str | os.PathLike[str] | IO[bytes] | bytes) -> Recommender:
    """Read any model written by ``save``: the class is named in the file."""
    saved = read_saved(file)
    cls = MODELS.get(saved.name)
    if cls is None:
        raise RecommenderError(f"file holds an unknown algorithm {saved.name!r}")
    return cls.restore(saved)
