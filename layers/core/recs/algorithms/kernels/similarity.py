"""The item-item similarity with ``similarity.c``: each row's top k of a rescaled product.

``Rescale`` says how a product becomes a similarity, in the terms both paths share: its
``apply`` is the numpy path's rescaling (``recs.algorithms.knn.blocked_topk_product``) and its
``mode`` and arrays are what the kernel computes, the same float32 expression.
``topk_product`` runs the kernel on blocks of rows on the ``recs.algorithms.threads`` workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recs.algorithms.kernels import F32, I64, P, function, pointer
from recs.algorithms.threads import in_threads

_ARGS = [I64, I64, P, P, P, P, P, P, I64, I64, I64, P, P, F32, P, P, P, P]
_INT32_MAX = np.iinfo(np.int32).max

# similarity.c's modes.
NONE, COSINE, COLUMN_WEIGHT = 0, 1, 2


@dataclass(frozen=True)
class Rescale:
    """How each row's products become similarities before the top-k cut.

    ``COSINE``: ``dots / (row_norm[row] * col_norm[col] + shrink)``; ``COLUMN_WEIGHT``:
    ``values * col_weight[col]``; ``NONE``: the products themselves. Arrays are float32, rows
    are the left matrix's global row indices.
    """

    mode: int = NONE
    row_norm: np.ndarray | None = None
    col_norm: np.ndarray | None = None
    shrink: float = 0.0  # rounded to float32 where it is used
    col_weight: np.ndarray | None = None

    @classmethod
    def cosine(cls, row_norm: np.ndarray, col_norm: np.ndarray, shrink: float) -> Rescale:
        return cls(COSINE, np.ascontiguousarray(row_norm, dtype=np.float32),
                   np.ascontiguousarray(col_norm, dtype=np.float32), float(np.float32(shrink)))

    @classmethod
    def column_weight(cls, weight: np.ndarray) -> Rescale:
        return cls(COLUMN_WEIGHT, col_weight=np.ascontiguousarray(weight, dtype=np.float32))

    def apply(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The numpy path's rescaling of a block's products (float32 in, float32 out)."""
        if self.mode == COSINE:
            assert self.row_norm is not None and self.col_norm is not None
            # An all-zero item's norm is 0: its 0 / 0 is no neighbour, as in the kernel.
            with np.errstate(divide="ignore", invalid="ignore"):
                return values / (self.row_norm[rows] * self.col_norm[cols]
                                 + np.float32(self.shrink))
        if self.mode == COLUMN_WEIGHT:
            assert self.col_weight is not None
            return values * self.col_weight[cols]
        return values


def available() -> bool:
    return function("recs_similarity_topk", _ARGS) is not None


def _csr_arrays(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m``'s arrays in the kernel's types (int64 indptr, int32 indices, float32 data)."""
    return (np.ascontiguousarray(m.indptr, dtype=np.int64),
            np.ascontiguousarray(m.indices, dtype=np.int32),
            np.ascontiguousarray(m.data, dtype=np.float32))


def topk_product(left: sp.csr_matrix, right: sp.csr_matrix, k: int,
                 blocks: list[tuple[int, int]], rescale: Rescale) -> sp.csr_matrix | None:
    """Each row's top ``k`` of ``rescale(left @ right)`` with the diagonal and values not > 0
    left out, sorted by column: ``blocked_topk_product``'s result, computed a block of rows
    (``blocks``, which cover ``left``'s rows in order) at a time on the workers. None without
    the kernel or for a shape past its int32 columns."""
    kernel = function("recs_similarity_topk", _ARGS)
    n_rows, n_cols = left.shape[0], right.shape[1]
    if kernel is None or n_cols > _INT32_MAX or left.shape[1] > _INT32_MAX:
        return None
    # float32 first, as scipy's product sees them (a float64 input is rounded, then multiplied).
    left_arrays = _csr_arrays(sp.csr_matrix(left, dtype=np.float32))
    right_arrays = _csr_arrays(sp.csr_matrix(right, dtype=np.float32))
    width = max(0, min(int(k), n_cols))
    row_norm, col_norm, col_weight = rescale.row_norm, rescale.col_norm, rescale.col_weight
    # What numpy would refuse with an error, the kernel would read out of bounds: refuse it here.
    if left.shape[1] != right.shape[0]:
        raise ValueError(f"cannot multiply {left.shape} by {right.shape}")
    wanted = {COSINE: [(row_norm, n_rows), (col_norm, n_cols)],
              COLUMN_WEIGHT: [(col_weight, n_cols)]}.get(rescale.mode, [])
    if any(array is None or array.size < size for array, size in wanted):
        raise ValueError(f"rescale mode {rescale.mode} without its arrays for {n_rows} rows "
                         f"and {n_cols} columns")

    def one(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start, stop = bounds
        counts = np.zeros(stop - start, dtype=np.int64)
        indices = np.empty((stop - start) * width, dtype=np.int32)
        data = np.empty((stop - start) * width, dtype=np.float32)
        written = kernel(start, stop, *map(pointer, left_arrays), *map(pointer, right_arrays),
                         n_cols, width, rescale.mode, pointer(row_norm), pointer(col_norm),
                         rescale.shrink, pointer(col_weight),
                         pointer(counts), pointer(indices), pointer(data))
        if written < 0:
            raise MemoryError("the similarity kernel could not allocate its scratch row")
        # Copies: a view would keep the block's whole k-per-row room alive until the end.
        return counts, indices[:written].copy(), data[:written].copy()

    parts = in_threads(one, blocks)
    counts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(n_rows, np.int64)
    indptr = np.r_[0, np.cumsum(counts)]
    indices = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
    data = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.float32)
    result = sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))
    result.has_sorted_indices = True
    return result
