"""The window's sessions as rows of items, for the models that fit on them.

A session is a shopper's run of events with less than ``SESSION_GAP_MS`` between one and the
next (the usual 30 minutes of web analytics): the lander keeps no visit boundary, and event
times alone give the same rows on every engine and every re-run. A row holds the session's
positive event weights per item, each already decayed by its event's age as the user x item
weights are, so a recent visit weighs more. Sessions of a single item are left out: they are
no neighbour to anything but that item, which a discovery list leaves out anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where the rows are made: the weighting runs without scipy
    import scipy.sparse as sp

SESSION_GAP_MS = 30 * 60 * 1000


def session_of_events(user_code: np.ndarray, ts: np.ndarray,
                      gap_ms: int = SESSION_GAP_MS) -> np.ndarray:
    """Each event's session number (sessions numbered by user, then time)."""
    if user_code.size == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((ts, user_code))
    u, t = user_code[order], ts[order]
    starts = np.r_[True, (u[1:] != u[:-1]) | (np.diff(t) >= gap_ms)]
    session = np.empty(order.size, np.int64)
    session[order] = np.cumsum(starts) - 1
    return session


def session_matrix(session: np.ndarray, item: np.ndarray, weight: np.ndarray,
                   n_items: int) -> sp.csr_matrix:
    """Sessions x items of summed positive ``weight`` (events with ``item`` < 0 or a weight
    not above 0 left out), keeping only sessions of two items or more."""
    import scipy.sparse as sp

    keep = (item >= 0) & (weight > 0)
    session, item, weight = session[keep], item[keep], weight[keep]
    _, row = np.unique(session, return_inverse=True)
    m = sp.csr_matrix((weight.astype(np.float32), (row, item)),
                      shape=(int(row.max(initial=-1)) + 1, n_items), dtype=np.float32)
    m.sum_duplicates()
    return sp.csr_matrix(m[np.flatnonzero(np.diff(m.indptr) >= 2)])
