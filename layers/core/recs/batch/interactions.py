"""The weighted user x item interactions every algorithm trains on, and their file format.

Saved as ``.npz`` without pickle (strings as fixed-width unicode arrays), so the train step
needs numpy and scipy but not pyarrow, and loading a file from S3 runs no code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recs.contracts.events import EVENT_RANK
from recs.formats import npz

if TYPE_CHECKING:  # scipy only where a window has sessions: the cold-start functions lack it
    import scipy.sparse as sp

# The strongest event type a user had with an item (by intent, ``EVENT_RANK``) names the verb
# of a recommendation's reason ("Because you bought ..."); its code is its position there.
EVENT_CODE = {name: code for code, name in enumerate(EVENT_RANK)}
PURCHASE = EVENT_CODE["purchase"]
SESSION_PREFIX = "~s~"  # marks an anonymous session's key in the user dimension


@dataclass
class Interactions:
    """Aggregated (user, item) weights plus per-item side data, indices into the id arrays."""

    user_ids: np.ndarray  # (n_users,) str
    item_ids: np.ndarray  # (n_items,) str
    user_index: np.ndarray  # (nnz,) int32
    item_index: np.ndarray  # (nnz,) int32
    weight: np.ndarray  # (nnz,) float32, > 0
    top_event: np.ndarray  # (nnz,) int8, code of the strongest event type
    item_category: np.ndarray  # (n_items,) str, "" when unknown
    trending: np.ndarray  # (n_items,) float32 recent decayed popularity
    as_of_ms: int = 0
    # Sessions x items (``recs.batch.sessions``), made only for a model fitting on them.
    sessions: sp.csr_matrix | None = None

    @property
    def n_users(self) -> int:
        return int(self.user_ids.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_ids.shape[0])

    def to_bytes(self) -> bytes:
        s = self.sessions
        extra = {} if s is None else {
            "session_indptr": s.indptr.astype(np.int64), "session_items": s.indices,
            "session_weight": s.data, "session_shape": np.asarray(s.shape, np.int64)}
        return npz.to_bytes(dict(
            **extra,
            user_ids=self.user_ids.astype(str),
            item_ids=self.item_ids.astype(str),
            user_index=self.user_index,
            item_index=self.item_index,
            weight=self.weight,
            top_event=self.top_event,
            item_category=self.item_category.astype(str),
            trending=self.trending,
            as_of_ms=np.array([self.as_of_ms], dtype=np.int64),
        ))

    @classmethod
    def from_bytes(cls, data: bytes) -> Interactions:
        f = npz.read(data)
        sessions = None
        if "session_indptr" in f:
            import scipy.sparse as sp

            sessions = sp.csr_matrix(
                (f["session_weight"], f["session_items"], f["session_indptr"]),
                shape=tuple(int(n) for n in f["session_shape"]))
        return cls(
            sessions=sessions,
            user_ids=f["user_ids"],
            item_ids=f["item_ids"],
            user_index=f["user_index"],
            item_index=f["item_index"],
            weight=f["weight"],
            top_event=f["top_event"],
            item_category=f["item_category"],
            trending=f["trending"],
            as_of_ms=int(f["as_of_ms"][0]),
        )
