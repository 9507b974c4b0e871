"""User recommendation lists from any model, each with the history item behind it.

For item-item models ``score(u, j) = sum_i w(u, i) * sim(i, j)`` and the reason is the ``i``
with the largest term, so "Because you bought Rice" names the purchase that mattered most;
a recommended item the user already had (a repeat) names itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recs.algorithms.base import Recommender, in_threads

DEFAULT_BLOCK_USERS = 2048


@dataclass
class UserRecommendations:
    """CSR-shaped lists: user ``u``'s items are ``items[indptr[u]:indptr[u+1]]``, best first."""

    indptr: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    because: np.ndarray  # history item index behind each recommendation


def recommend(
    model: Recommender,
    user_items: sp.csr_matrix,
    n: int,
    exclude: sp.csr_matrix | None = None,
    filter_already_liked_items: bool = False,
    block_users: int = DEFAULT_BLOCK_USERS,
    new_items: int = 0,
) -> UserRecommendations:
    """Top-``n`` items per user; ``exclude`` (users x items, nonzero = excluded) filters.

    With ``new_items``, a list holding fewer items new to the user than that gets the
    model's best new items outside the list appended below it, in score order (the list's
    head is unchanged). A blend with a high repeat weight fills a heavy user's list with
    their own history; a page that hides what the user already has (or a shopper who wants
    something new) would otherwise fall through to trending. The top-up runs per block of
    users, so it adds a block's worth of memory, not a second copy of every list.
    """
    x = sp.csr_matrix(user_items, dtype=np.float32)
    n_users = x.shape[0]

    def ranked(block: sp.csr_matrix, block_exclude: sp.csr_matrix | None, k: int,
               filter_known: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                            np.ndarray]:
        """Rows, items, scores, reasons and whether the user has the item, best first."""
        lists = model.rank_with_reasons(block, k, filter_already_liked_items=filter_known,
                                        exclude=block_exclude)
        rows = np.repeat(np.arange(block.shape[0]), np.diff(lists.indptr))
        return rows, lists.items, lists.scores, lists.because, lists.owned

    def one(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        stop = min(start + block_users, n_users)
        block = x[start:stop]
        block_exclude = None if exclude is None else sp.csr_matrix(exclude[start:stop])
        rows, items, scores, because, owned = ranked(block, block_exclude, n,
                                                     filter_already_liked_items)
        short = np.flatnonzero(
            np.bincount(rows[~owned], minlength=stop - start) < new_items)
        if new_items > 0 and short.size:
            e_rows, e_items, e_scores, e_because, _ = ranked(
                block[short], None if block_exclude is None else block_exclude[short],
                new_items, True)
            e_rows = short[e_rows]
            # Additions already in the list are dropped (keys: row * items + item).
            listed = np.sort(rows.astype(np.int64) * x.shape[1] + items)
            added = e_rows.astype(np.int64) * x.shape[1] + e_items
            at = np.minimum(np.searchsorted(listed, added), max(listed.size - 1, 0))
            fresh = ~(listed[at] == added) if listed.size else np.ones(added.size, bool)
            rows = np.r_[rows, e_rows[fresh]]
            order = np.argsort(rows, kind="stable")  # per user: the list, then additions
            rows = rows[order]
            items = np.r_[items, e_items[fresh]][order]
            scores = np.r_[scores, e_scores[fresh]][order]
            because = np.r_[because, e_because[fresh]][order]
        return (np.bincount(rows, minlength=stop - start), items.astype(np.int32),
                scores.astype(np.float32), because.astype(np.int32))

    parts = in_threads(one, range(0, n_users, block_users))  # blocks are independent
    counts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    columns = [[p[k] for p in parts] for k in (1, 2, 3)]
    del parts

    def joined(index: int, dtype: type) -> np.ndarray:
        # One column at a time, its blocks freed as it is joined: the lists are the
        # batch's largest arrays, and joining all three at once held them twice.
        blocks, columns[index] = columns[index], []
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype)

    return UserRecommendations(
        indptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
        items=joined(0, np.int32),
        scores=joined(1, np.float32),
        because=joined(2, np.int32),
    )
