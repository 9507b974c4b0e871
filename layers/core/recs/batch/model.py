"""A trained model version: everything the export step turns into DynamoDB rows.

Stored as one ``.npz`` without pickle under ``models/<version>/model.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from recs.formats import npz


@dataclass
class Model:
    user_ids: np.ndarray
    item_ids: np.ndarray
    similarity: sp.csr_matrix  # items x items, top-K neighbours per row
    rec_indptr: np.ndarray
    rec_items: np.ndarray
    rec_scores: np.ndarray
    rec_because: np.ndarray
    rec_because_event: np.ndarray  # int8 event code of the user's strongest event on because
    trending_items: np.ndarray
    trending_scores: np.ndarray
    category_names: np.ndarray
    category_indptr: np.ndarray
    category_items: np.ndarray
    category_scores: np.ndarray
    # CSR-shaped per user row: the items the user's interactions held (what ``exclude=seen``
    # leaves out, exported as the row's ``history``). Empty for a model saved before them.
    history_indptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    history_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def to_bytes(self) -> bytes:
        sim = self.similarity
        return npz.to_bytes(dict(
            user_ids=self.user_ids.astype(str),
            item_ids=self.item_ids.astype(str),
            sim_indptr=sim.indptr,
            sim_indices=sim.indices,
            sim_data=sim.data.astype(np.float32),
            rec_indptr=self.rec_indptr,
            rec_items=self.rec_items,
            rec_scores=self.rec_scores,
            rec_because=self.rec_because,
            rec_because_event=self.rec_because_event,
            trending_items=self.trending_items,
            trending_scores=self.trending_scores,
            category_names=self.category_names.astype(str),
            category_indptr=self.category_indptr,
            category_items=self.category_items,
            category_scores=self.category_scores,
            history_indptr=self.history_indptr,
            history_items=self.history_items,
        ))

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        f = npz.read(data)
        n_items = f["item_ids"].shape[0]
        similarity = sp.csr_matrix(
            (f["sim_data"], f["sim_indices"], f["sim_indptr"]), shape=(n_items, n_items)
        )
        return cls(
            user_ids=f["user_ids"],
            item_ids=f["item_ids"],
            similarity=similarity,
            rec_indptr=f["rec_indptr"],
            rec_items=f["rec_items"],
            rec_scores=f["rec_scores"],
            rec_because=f["rec_because"],
            rec_because_event=f["rec_because_event"],
            trending_items=f["trending_items"],
            trending_scores=f["trending_scores"],
            category_names=f["category_names"],
            category_indptr=f["category_indptr"],
            category_items=f["category_items"],
            category_scores=f["category_scores"],
            **({"history_indptr": f["history_indptr"], "history_items": f["history_items"]}
               if "history_items" in f else {}),
        )
