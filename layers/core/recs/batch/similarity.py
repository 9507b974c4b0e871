"""Item-item similarity for the batch: moved to ``recs.algorithms.knn``, re-exported here."""

from __future__ import annotations

from recs.algorithms.knn import cosine, topk_per_row
from recs.algorithms.swing import swing

__all__ = ["cosine", "swing", "topk_per_row"]
