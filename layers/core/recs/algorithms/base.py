"""The one contract every recommender follows, and the batch's path through it.

The batch calls exactly this, on every model alike (``recs.batch.training`` and
``recs.batch.recommend``):

- ``fit(user_items, item_weight=None)`` on a CSR users x items matrix of weights;
  ``item_weight`` (one repeat weight per item) only for a model declaring ``item_weights``.
- ``rank(user_items, n, ...)``: variable-length top-``n`` lists (``RankedLists``, CSR-shaped)
  for every row of ``user_items``, filtered by the user's history and by chosen pairs.
- ``contributors(user_items, rows, items)``: the history item behind each recommendation.
- ``item_similarity()``: the items x items neighbours behind them, or None.
- ``set_params`` / ``set_item_weight``: new values for parameters that need no new fit.

Models score from the user's history row alone, so any user (even one unseen at fit time)
can be scored. Around ``rank`` sit the ``implicit``-style views (modelled on ``implicit``'s
``RecommenderBase``): ``recommend(userids, user_items, N, filter_already_liked_items)``
returns ``rank``'s lists as 2-D ``(ids, scores)`` padded with ``-1`` / ``-inf`` (a scalar
``userid`` gives 1-D arrays), ``similar_items(itemids, N)`` the same for items, and
``save``/``load`` write and read a fitted model as ``.npz`` with ``allow_pickle=False``
(loading runs no code). The batch uses none of these views: it stores ranked lists and
the item similarity, not models.

Each model class points at its declaration (``spec``, from ``recs.algorithms.catalog``):
its parameters and capabilities. Subclasses implement ``_fit``, ``_score`` (a block of users
-> a sparse or dense block of scores) and ``_similar`` (a block of items -> scores); batching,
filtering, top-N selection, input checks and persistence live here once.
"""

from __future__ import annotations

import io
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import IO, Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recs.algorithms.catalog import Spec
from recs.algorithms.kernels import rank as kernel
from recs.algorithms.threads import in_threads, threads
from recs.exceptions import NaNError, NotFittedError, RecommenderError
from recs.formats import npz

__all__ = ["NaNError", "NotFittedError", "RankedLists", "Recommender", "RecommenderError",
           "in_threads", "threads"]

# Scores of a dense block are kept below this many cells (float32: 64 MB).
DENSE_CELLS = 1 << 24
SPARSE_BLOCK_USERS = 2048


@dataclass
class RankedLists:
    """Variable-length ranked lists in CSR form: row ``r`` is ``items[indptr[r]:indptr[r+1]]``."""

    indptr: np.ndarray  # int64
    items: np.ndarray  # int32
    scores: np.ndarray  # float32

    def padded(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """As 2-D ``(ids, scores)`` of width ``n``, padded with -1 / -inf."""
        rows = self.indptr.size - 1
        ids = np.full((rows, n), -1, dtype=np.int32)
        scores = np.full((rows, n), -np.inf, dtype=np.float32)
        lengths = np.diff(self.indptr)
        row = np.repeat(np.arange(rows), lengths)
        col = np.arange(self.items.size) - self.indptr[row]
        ids[row, col] = self.items
        scores[row, col] = self.scores
        return ids, scores


def as_csr(matrix: Any, what: str = "user_items") -> sp.csr_matrix:
    """``matrix`` as float32 CSR, refusing what is not a 2-D sparse matrix or holds NaN/inf."""
    if not sp.issparse(matrix):
        raise RecommenderError(
            f"{what} must be a scipy sparse matrix (CSR, users x items), "
            f"got {type(matrix).__name__}"
        )
    if matrix.ndim != 2:
        raise RecommenderError(f"{what} must be 2-D, got shape {matrix.shape}")
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    if csr.data.size and not np.isfinite(csr.data).all():
        bad = int(np.count_nonzero(~np.isfinite(csr.data)))
        raise NaNError(f"{what} holds {bad} NaN or infinite values")
    if not csr.has_canonical_format:
        # Duplicates summed (on a copy): then every score block made from it is
        # duplicate-free, which is what lets topn_sparse skip sorting each block.
        csr = sp.csr_matrix(csr, copy=True)
        csr.sum_duplicates()
    return csr


def topk_mask(scores: sp.csr_matrix, n: int) -> np.ndarray:
    """Mask of each row's ``n`` largest stored entries; ties go to the lower column.

    Rows are grouped by length rounded up to a power of two and padded with ``-inf``, so one
    ``np.partition`` per group (about 20 at most) finds every long row's threshold; nothing is
    fully sorted. The indices need not be sorted (a sparse product's are not, and sorting them
    cost a quarter of the item-item similarity): only the ties that do not all fit, usually
    few, are ordered by column.
    """
    indptr = scores.indptr
    data = scores.data.astype(np.float32, copy=False)
    lengths = np.diff(indptr)
    long_rows = np.flatnonzero(lengths > n)
    if long_rows.size == 0:
        return np.ones(data.size, dtype=bool)
    if n <= 0:
        return np.zeros(data.size, dtype=bool)
    threshold = np.full(scores.shape[0], -np.inf, dtype=np.float32)
    width_of = 1 << np.ceil(np.log2(lengths[long_rows])).astype(np.int64)
    for width in np.unique(width_of):
        same = long_rows[width_of == width]
        cols = np.arange(width)[None, :]
        valid = cols < lengths[same][:, None]
        idx = np.where(valid, indptr[same][:, None] + cols, 0)
        block = np.where(valid, data[idx], -np.inf)
        threshold[same] = np.partition(block, width - n, axis=1)[:, width - n]
    row = np.repeat(np.arange(scores.shape[0]), lengths)
    keep = data > threshold[row]
    equal = data == threshold[row]
    room = n - np.bincount(row[keep], minlength=scores.shape[0])
    ties = np.bincount(row[equal], minlength=scores.shape[0])
    fits = ties <= room
    keep |= equal & fits[row]
    # Rows with more ties at the threshold than room: keep the lowest columns among them.
    over = np.flatnonzero(equal & ~fits[row])
    if over.size:
        over = over[np.lexsort((scores.indices[over], row[over]))]
        over_row = row[over]
        first = np.flatnonzero(np.r_[True, over_row[1:] != over_row[:-1]])
        rank = np.arange(over.size) - np.repeat(first, np.diff(np.r_[first, over.size]))
        keep[over[rank < room[over_row]]] = True
    return keep


def topn_sparse(scores: sp.csr_matrix, n: int, sort: bool = True) -> RankedLists:
    """Each row's ``n`` largest stored entries, best first (``sort``), ties to the lower item.

    ``scores`` must hold no duplicate entries: any scipy product or sum of duplicate-free
    matrices (what ``as_csr`` hands the models) qualifies. Its indices need not be sorted;
    sorting every score block's indices was a tenth of the batch ranking.
    """
    scores = sp.csr_matrix(scores)
    rows_n = scores.shape[0]
    if n <= 0 or scores.nnz == 0:
        return RankedLists(np.zeros(rows_n + 1, np.int64), np.zeros(0, np.int32),
                           np.zeros(0, np.float32))
    keep = topk_mask(scores, n)
    row = np.repeat(np.arange(rows_n), np.diff(scores.indptr))[keep]
    cols, data = scores.indices[keep], scores.data[keep]
    if sort:  # by row, then score descending, then column
        row, cols, data = sort_entries(row, cols, data, scores.shape)
    counts = np.bincount(row, minlength=rows_n)
    return RankedLists(np.r_[0, np.cumsum(counts)].astype(np.int64), cols.astype(np.int32),
                       data.astype(np.float32))


def _float_order(values: np.ndarray) -> np.ndarray:
    """float32 values as uint32 keys in the same order (``-0.0`` as ``0.0``, as ``<`` has it)."""
    bits = (values + np.float32(0.0)).view(np.uint32)  # -0.0 + 0.0 is +0.0
    negative = (bits >> np.uint32(31)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint32(1 << 31))


def _float_from_order(keys: np.ndarray) -> np.ndarray:
    """The inverse of ``_float_order``."""
    positive = (keys >> np.uint32(31)).astype(bool)
    return np.where(positive, keys & np.uint32(0x7FFFFFFF), ~keys).view(np.float32)


def sort_entries(row: np.ndarray, cols: np.ndarray, data: np.ndarray,
                 shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries ordered by row, then value descending, then column: ``np.lexsort((cols,
    -data, row))``'s order. When row, value and column fit one 64-bit key (float32 values,
    a block's rows and up to about two million columns) that key is sorted instead, a
    fraction of the three stable passes of ``lexsort``."""
    row_bits = max(int(shape[0]) - 1, 1).bit_length()
    col_bits = max(int(shape[1]) - 1, 1).bit_length()
    if data.dtype != np.float32 or row_bits + 32 + col_bits > 64 or not np.isfinite(data).all():
        order = np.lexsort((cols, -data, row))
        return row[order], cols[order], data[order]
    key = row.astype(np.uint64) << np.uint64(32 + col_bits)
    key |= (~_float_order(data)).astype(np.uint64) << np.uint64(col_bits)
    key |= cols.astype(np.uint64)
    key.sort()
    cols_out = (key & np.uint64((1 << col_bits) - 1)).astype(cols.dtype)
    values = ~((key >> np.uint64(col_bits)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    row_out = (key >> np.uint64(32 + col_bits)).astype(row.dtype)
    return row_out, cols_out, _float_from_order(values)


def topn_dense(scores: np.ndarray, n: int) -> RankedLists:
    """Each row's ``n`` largest finite entries of a dense block (``-inf`` = not a candidate)."""
    rows_n, n_cols = scores.shape
    n = min(n, n_cols)
    if n <= 0:
        return RankedLists(np.zeros(rows_n + 1, np.int64), np.zeros(0, np.int32),
                           np.zeros(0, np.float32))
    if n < n_cols:
        part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    else:
        part = np.broadcast_to(np.arange(n_cols), (rows_n, n_cols)).copy()
    values = np.take_along_axis(scores, part, axis=1)
    # Best first; ties to the lower item index.
    order = np.lexsort((part, -values), axis=1) if rows_n else part
    part = np.take_along_axis(part, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    valid = np.isfinite(values)
    counts = valid.sum(axis=1)
    return RankedLists(np.r_[0, np.cumsum(counts)].astype(np.int64),
                       part[valid].astype(np.int32), values[valid].astype(np.float32))


def concat_lists(parts: list[RankedLists]) -> RankedLists:
    if not parts:
        return RankedLists(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32))
    counts = np.concatenate([np.diff(p.indptr) for p in parts])
    return RankedLists(
        np.r_[0, np.cumsum(counts)].astype(np.int64),
        np.concatenate([p.items for p in parts]).astype(np.int32),
        np.concatenate([p.scores for p in parts]).astype(np.float32),
    )


def _mask_out(block: np.ndarray | sp.csr_matrix, mask: sp.csr_matrix | None,
              filter_items: np.ndarray | None) -> np.ndarray | sp.csr_matrix:
    """Drop masked (user, item) cells and every ``filter_items`` column from a score block."""
    if isinstance(block, np.ndarray):
        if mask is not None and mask.nnz:
            m = sp.csr_matrix(mask)
            rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
            block[rows, m.indices] = -np.inf
        if filter_items is not None and filter_items.size:
            block[:, filter_items] = -np.inf
        return block
    block = sp.csr_matrix(block)
    if mask is not None and mask.nnz:
        hit = sp.csr_matrix(mask, dtype=bool).astype(np.float32)
        block = sp.csr_matrix(block - block.multiply(hit))
    if filter_items is not None and filter_items.size:
        keep = np.ones(block.shape[1], dtype=np.float32)
        keep[filter_items] = 0.0
        block = sp.csr_matrix(block @ sp.diags(keep))
    block.eliminate_zeros()
    return block


class Recommender(ABC):
    """Base of every model; see the module docstring for the contract."""

    # The model's declaration; ``name`` is its name (set from it for each subclass).
    spec: ClassVar[Spec]
    name: ClassVar[str] = ""
    n_items: int = -1
    # A model whose ``_score`` returns sparse rows is ranked SPARSE_BLOCK_USERS users at a
    # time; dense scores are bounded by DENSE_CELLS (a few dozen users when items are many).
    sparse_scores: ClassVar[bool] = False
    # While ``fit`` runs: the sessions it was given, which a composite hands its parts.
    fit_sessions: sp.csr_matrix | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "spec" in cls.__dict__:
            cls.name = cls.spec.name

    # ---- what a model implements -------------------------------------------------------

    @abstractmethod
    def _fit(self, user_items: sp.csr_matrix) -> None: ...

    @abstractmethod
    def _score(self, user_items: sp.csr_matrix, n: int) -> np.ndarray | sp.csr_matrix:
        """Scores for a block of users (one row each), users x items; absent = no candidate.

        ``n`` is how many candidates per user survive filtering at most: a model whose
        candidates are the same for everyone may return just enough of them.
        """

    @abstractmethod
    def _similar(self, itemids: np.ndarray) -> np.ndarray | sp.csr_matrix:
        """Scores of every item for a block of query items; the query item is not included."""

    def _masked_score(self, user_items: sp.csr_matrix, n: int, mask: sp.csr_matrix | None,
                      filter_items: np.ndarray | None) -> np.ndarray | sp.csr_matrix:
        """``_score`` without the ``mask`` cells and ``filter_items`` columns; a model whose
        scores are made of parts may drop them from the part that can hold them."""
        return _mask_out(self._score(user_items, n), mask, filter_items)

    def _kernel_scoring(self) -> kernel.Scoring | None:
        """The model's scores in the compiled ranking kernel's terms, or None when they are
        not of its shape (the numpy path ranks them)."""
        return None

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable; saved with the model."""
        return {}

    def _arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as named arrays."""
        return {}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:  # noqa: B027
        """Restore the fitted state from ``_arrays``' output (nothing by default)."""

    def contributors(
        self, user_items: sp.csr_matrix, rows: np.ndarray, items: np.ndarray
    ) -> np.ndarray:
        """For each (row of ``user_items``, recommended item): the history item behind it.

        The default is the user's heaviest history item; models with item neighbours name the
        history item whose term contributed most.
        """
        return _heaviest(user_items, rows)

    # ---- the contract --------------------------------------------------------------------

    def fit(self, user_items: sp.spmatrix, item_weight: np.ndarray | None = None,
            sessions: sp.spmatrix | None = None) -> Self:
        """Fit on a users x items matrix of weights; ``item_weight`` (one repeat weight per
        item) is for models declaring ``item_weights`` and refused by the others.
        ``sessions`` (sessions x the same items) is what a model declaring ``sessions`` fits
        on instead (a composite hands it to its parts); the others ignore it."""
        if item_weight is not None and not self.spec.item_weights:
            raise RecommenderError(f"{self.name} takes no item weights")
        x = as_csr(user_items)
        if x.shape[1] == 0:
            raise RecommenderError("user_items has no item columns")
        s = None if sessions is None else as_csr(sessions)
        if s is not None and s.shape[1] != x.shape[1]:
            raise RecommenderError(f"sessions have {s.shape[1]} item columns, the users' "
                                   f"matrix {x.shape[1]}")
        if self.spec.sessions and s is None:
            raise RecommenderError(f"{self.name} fits on sessions, and none were given")
        self.n_items = int(x.shape[1])
        self.fit_sessions = s
        try:
            self._fit(s if self.spec.sessions and s is not None else x)
        finally:
            self.fit_sessions = None
        if self.spec.item_weights:
            self.set_item_weight(item_weight)
        return self

    def set_item_weight(self, item_weight: np.ndarray | None) -> None:
        """One repeat weight per item, or None for the model's own (``item_weights`` models;
        the batch calls it through ``fit``, the tuning on a model it keeps)."""
        raise RecommenderError(f"{self.name} takes no item weights")

    def set_params(self, **params: Any) -> None:
        """New values for parameters declared ``refit=False``: the tuning tries them on a
        fitted model instead of fitting it again. A model taking item weights derives its
        own again on the next ``set_item_weight(None)``."""
        for key, value in params.items():
            param = self.spec.param(key)
            if param.refit:
                raise RecommenderError(f"{self.name}: {key} needs a new fit")
            problem = param.problem(value)
            if problem is not None:
                raise RecommenderError(f"{self.name}: {key} {problem}, got {value!r}")
            setattr(self, key, param.kind(value))

    def item_similarity(self) -> sp.csr_matrix | None:
        """The items x items neighbours (top-K rows) behind the model's scores and reasons,
        or None for a model without them (declared ``similarity``)."""
        return None

    def recommend(
        self,
        userids: int | np.ndarray,
        user_items: sp.spmatrix,
        N: int = 10,
        filter_already_liked_items: bool = True,
        filter_items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``N`` items for each user; ``user_items`` has one row per user id."""
        scalar = np.isscalar(userids)
        ids = np.atleast_1d(np.asarray(userids))
        x = self._check_users(ids, user_items)
        lists = self.rank(x, N, filter_already_liked_items=filter_already_liked_items,
                          filter_items=filter_items)
        out_ids, out_scores = lists.padded(N)
        return (out_ids[0], out_scores[0]) if scalar else (out_ids, out_scores)

    def rank(
        self,
        user_items: sp.csr_matrix,
        n: int,
        filter_already_liked_items: bool = True,
        filter_items: np.ndarray | None = None,
        exclude: sp.csr_matrix | None = None,
    ) -> RankedLists:
        """Variable-length top-``n`` lists for every row of ``user_items`` (the batch path).

        ``exclude`` (same shape, nonzero = excluded) drops chosen (user, item) pairs, such as
        items already bought that are not a repeat-purchase kind.
        """
        x = self._checked(user_items, exclude)
        filt = None if filter_items is None else self._check_items(filter_items, "filter_items")
        block_users = self._block_users()
        fast = self._compiled(x, n, filter_already_liked_items, exclude) if filt is None else None
        if fast is not None:
            return RankedLists(fast.indptr, fast.items, fast.scores)
        parts = []
        for start in range(0, x.shape[0], block_users):
            stop = min(start + block_users, x.shape[0])
            block = x[start:stop]
            mask = kernel.block_mask(
                block, None if exclude is None else sp.csr_matrix(exclude[start:stop]),
                filter_already_liked_items)
            wanted = n + (0 if mask is None else int(np.diff(mask.indptr).max(initial=0)))
            wanted += 0 if filt is None else int(filt.size)
            scores = self._masked_score(block, wanted, mask, filt)
            parts.append(topn_dense(scores, n) if isinstance(scores, np.ndarray)
                         else topn_sparse(scores, n))
        return concat_lists(parts)

    def rank_with_reasons(
        self,
        user_items: sp.csr_matrix,
        n: int,
        filter_already_liked_items: bool = False,
        exclude: sp.csr_matrix | None = None,
    ) -> kernel.Ranked:
        """``rank``'s lists with the history item behind each entry and whether the user
        owns it (a positive history weight): a repeat names itself, a new item the history
        item ``contributors`` names. The compiled kernel finds both while scoring."""
        x = self._checked(user_items, exclude)
        fast = self._compiled(x, n, filter_already_liked_items, exclude)
        if fast is not None:
            return fast
        lists = self.rank(x, n, filter_already_liked_items=filter_already_liked_items,
                          exclude=exclude)
        rows = np.repeat(np.arange(x.shape[0]), np.diff(lists.indptr))
        owned = np.asarray(x[rows, lists.items]).ravel() > 0 if rows.size else (
            np.zeros(0, bool))
        # Only new items ask the model for the history item behind them (the owned ones
        # were looked up here already, and would be looked up again).
        because = lists.items.astype(np.int32)
        new = ~owned
        if new.any():
            because[new] = self.contributors(x, rows[new], lists.items[new])
        return kernel.Ranked(lists.indptr, lists.items, lists.scores, because, owned)

    def similar_items(
        self, itemids: int | np.ndarray, N: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``N`` items most similar to each item, best first; the item itself excluded."""
        self._check_fitted()
        scalar = np.isscalar(itemids)
        ids = self._check_items(np.atleast_1d(np.asarray(itemids)), "itemids")
        parts = []
        step = max(1, DENSE_CELLS // max(self.n_items, 1))
        for start in range(0, ids.size, step):
            block = ids[start:start + step]
            scores = self._similar(block)
            if isinstance(scores, np.ndarray):
                scores = scores.astype(np.float32, copy=True)
                scores[np.arange(block.size), block] = -np.inf
                parts.append(topn_dense(scores, N))
            else:
                own = sp.csr_matrix(
                    (np.ones(block.size, np.float32), (np.arange(block.size), block)),
                    shape=scores.shape)
                parts.append(topn_sparse(_mask_out(scores, own, None), N))
        out_ids, out_scores = concat_lists(parts).padded(N)
        return (out_ids[0], out_scores[0]) if scalar else (out_ids, out_scores)

    def save(self, file: str | os.PathLike[str] | IO[bytes]) -> None:
        """Write the model as ``.npz`` (no pickled objects)."""
        self._check_fitted()
        arrays = self._arrays()
        npz.save(file, {**_header(self), **arrays})

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.save(buffer)
        return buffer.getvalue()

    @classmethod
    def load(cls, file: str | os.PathLike[str] | IO[bytes] | bytes) -> Self:
        """Read a model written by ``save``; refuses a file of another model class.

        ``recs.algorithms.registry.load_any`` reads a file of any class."""
        saved = read_saved(file)
        if saved.name != cls.name:
            raise RecommenderError(
                f"file holds a {saved.name!r} model, not a {cls.__name__} ({cls.name!r})")
        return cls.restore(saved)

    @classmethod
    def restore(cls, saved: Saved) -> Self:
        """The model ``saved`` describes, built with its parameters and given its arrays."""
        try:
            model = cls(**saved.params)
        except TypeError as exc:
            raise RecommenderError(f"{cls.name}: {exc}") from exc
        model.n_items = saved.n_items
        model._set_arrays(saved.arrays)
        return model

    # ---- helpers -------------------------------------------------------------------------

    def _checked(self, user_items: sp.csr_matrix, exclude: sp.csr_matrix | None,
                 ) -> sp.csr_matrix:
        """``user_items`` as CSR for ranking, refused when it or ``exclude`` does not fit."""
        self._check_fitted()
        x = as_csr(user_items)
        if x.shape[1] != self.n_items:
            raise RecommenderError(
                f"user_items has {x.shape[1]} item columns but the model was fitted on "
                f"{self.n_items} items"
            )
        if exclude is not None and exclude.shape != x.shape:
            raise RecommenderError(
                f"exclude has shape {exclude.shape}, user_items has shape {x.shape}"
            )
        return x

    def _compiled(self, x: sp.csr_matrix, n: int, filter_known: bool,
                  exclude: sp.csr_matrix | None) -> kernel.Ranked | None:
        """The ranking kernel's lists, or None when the model's scores are not of its shape
        or the kernel is not built."""
        scoring = self._kernel_scoring()
        if scoring is None:
            return None
        return kernel.rank(scoring, x, n, filter_known, exclude, self._block_users())

    def _block_users(self) -> int:
        if self.sparse_scores:
            return SPARSE_BLOCK_USERS
        return max(1, min(SPARSE_BLOCK_USERS, DENSE_CELLS // max(self.n_items, 1)))

    def _check_fitted(self) -> None:
        if self.n_items < 0:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() or load()")

    def _check_users(self, ids: np.ndarray, user_items: Any) -> sp.csr_matrix:
        self._check_fitted()
        if not np.issubdtype(ids.dtype, np.integer):
            raise RecommenderError(f"userids must be integers, got dtype {ids.dtype}")
        x = as_csr(user_items)
        if x.shape[0] != ids.size:
            raise RecommenderError(
                f"user_items has {x.shape[0]} rows but {ids.size} userids were given: "
                "pass one row per user id (user_items[userids])"
            )
        return x

    def _check_items(self, ids: np.ndarray, what: str) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise RecommenderError(f"{what} must be integers, got dtype {ids.dtype}")
        ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_items):
            raise RecommenderError(
                f"{what} must lie in [0, {self.n_items}), got {ids.min()}..{ids.max()}"
            )
        return ids

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def row_argmax(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Column and value of each row's largest stored entry (0, 0 for an empty row).

    For non-negative matrices this equals scipy's ``argmax(axis=1)`` / ``max(axis=1)``
    (first stored maximum wins), but in a few vectorised passes: scipy loops over rows in
    Python, which made the reasons the slowest part of training.
    """
    m = sp.csr_matrix(matrix)
    n = m.shape[0]
    cols = np.zeros(n, dtype=np.int64)
    best = np.zeros(n, dtype=m.dtype)
    counts = np.diff(m.indptr)
    nonempty = np.flatnonzero(counts)
    if nonempty.size == 0:
        return cols, best
    best[nonempty] = np.maximum.reduceat(m.data, m.indptr[nonempty])
    rows = np.repeat(np.arange(n), counts)
    hits = np.flatnonzero(m.data == best[rows])
    hit_rows = rows[hits]  # ascending: each row's first hit is where the row changes
    first = np.flatnonzero(np.r_[True, hit_rows[1:] != hit_rows[:-1]])
    cols[hit_rows[first]] = m.indices[hits[first]]
    return cols, best


def _heaviest(user_items: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    x = sp.csr_matrix(user_items)
    if x.nnz == 0:
        return np.full(rows.size, -1, dtype=np.int32)
    best, _ = row_argmax(x)
    empty = np.diff(x.indptr) == 0
    best[empty] = -1
    return best[rows].astype(np.int32)


def _header(model: Recommender) -> dict[str, np.ndarray]:
    return {
        "__class__": np.asarray(model.name),
        "__params__": np.asarray(json.dumps(model.get_params(), sort_keys=True)),
        "__n_items__": np.asarray(model.n_items, dtype=np.int64),
    }


@dataclass
class Saved:
    """A file written by ``Recommender.save``: the model's name, parameters and arrays."""

    name: str
    params: dict[str, Any]
    n_items: int
    arrays: dict[str, np.ndarray]


def read_saved(file: str | os.PathLike[str] | IO[bytes] | bytes) -> Saved:
    """The header and arrays of a saved model (``allow_pickle=False``: reading runs no code)."""
    if isinstance(file, bytes | bytearray):
        file = io.BytesIO(file)
    elif isinstance(file, str) and not file.endswith(".npz"):
        file = file + ".npz"
    with np.load(file, allow_pickle=False) as f:
        arrays = {key: f[key] for key in f.files}
    try:
        name = str(arrays.pop("__class__"))
        params = json.loads(str(arrays.pop("__params__")))
        n_items = int(arrays.pop("__n_items__"))
    except KeyError as exc:
        raise RecommenderError(f"not a saved recommender: missing {exc}") from exc
    return Saved(name, params, n_items, arrays)
