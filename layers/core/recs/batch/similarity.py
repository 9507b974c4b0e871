"""Item-item similarity: sparse co-occurrence, normalised, pruned to top-K neighbours.

``cosine`` computes ``X.T @ X`` a block of items at a time, so peak memory is one block's
co-occurrence rather than the whole items x items product.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DEFAULT_BLOCK_ITEMS = 4096


def topk_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep each row's ``k`` largest entries (ties broken by lower column index)."""
    matrix = sp.csr_matrix(matrix)
    matrix.sum_duplicates()
    lengths = np.diff(matrix.indptr)
    if lengths.size == 0 or lengths.max() <= k:
        matrix.sort_indices()
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(order.size) - matrix.indptr[rows[order]]
    kept = order[rank < k]
    result = sp.csr_matrix(
        (matrix.data[kept], (rows[kept], matrix.indices[kept])), shape=matrix.shape
    )
    result.sort_indices()
    return result


def cosine(
    user_items: sp.csr_matrix,
    neighbours: int,
    shrinkage: float = 0.0,
    block_items: int = DEFAULT_BLOCK_ITEMS,
) -> sp.csr_matrix:
    """Items x items cosine similarity with shrinkage, top-``neighbours`` per row.

    ``sim(i, j) = x_i . x_j / (|x_i| |x_j| + shrinkage)``: shrinkage pulls down pairs seen
    together only a few times, which plain cosine rates as highly as well-supported ones.
    Row ``i`` lists the items most similar to ``i``; the diagonal is excluded.
    """
    x = sp.csr_matrix(user_items, dtype=np.float32)
    n_items = x.shape[1]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)
    xt = sp.csr_matrix(x.T)
    blocks = []
    for start in range(0, n_items, block_items):
        stop = min(start + block_items, n_items)
        co = (xt[start:stop] @ x).tocoo()
        rows = co.row + start
        keep = rows != co.col
        rows, cols, dots = rows[keep], co.col[keep], co.data[keep]
        sims = dots / (norms[rows] * norms[cols] + shrinkage)
        positive = sims > 0
        block = sp.csr_matrix(
            (sims[positive], (rows[positive] - start, cols[positive])),
            shape=(stop - start, n_items),
        )
        blocks.append(topk_per_row(block, neighbours))
    if not blocks:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=np.float32)
