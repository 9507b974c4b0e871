"""The similarity's partial sums travel packed (``recs_spark.similarity.pack``): whatever the
pairs, unpacking gives them back exactly, and the top-K pass's chunks hold whole buckets."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from recs_spark.similarity import pack, unpack, unpacked

pair_sets = st.sets(st.tuples(st.integers(0, 600), st.integers(0, 2_000_000)), max_size=300)


def _sorted(pairs: set[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    ordered = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return ordered[:, 0], ordered[:, 1]


@settings(max_examples=150, deadline=None)
@given(pairs=pair_sets, bucket_items=st.sampled_from([1, 3, 256]), seed=st.integers(0, 99))
def test_unpacking_gives_back_every_pair_and_its_exact_sum(
        pairs: set[tuple[int, int]], bucket_items: int, seed: int) -> None:
    row, col = _sorted(pairs)
    rng = np.random.default_rng(seed)
    dot = rng.standard_normal(row.size) * 10.0 ** rng.integers(-12, 12, row.size)
    batches = list(pack(row, col, dot, bucket_items))
    got = [unpack(int(b), int(n), blob, bucket_items) for batch in batches
           for b, n, blob in zip(batch["bucket"].to_pylist(), batch["pairs"].to_pylist(),
                                 batch["blob"].to_pylist(), strict=True)]
    assert sum(batch.num_rows for batch in batches) == np.unique(row // bucket_items).size
    back = [np.concatenate([part[k] for part in got]) if got else np.zeros(0)
            for k in range(3)]
    np.testing.assert_array_equal(back[0], row)
    np.testing.assert_array_equal(back[1], col)
    assert back[2].tobytes() == dot.astype(np.float64).tobytes()  # bit for bit


def test_the_top_k_chunks_hold_whole_buckets() -> None:
    """Two chunks' blobs for the same bucket reach the same top-K chunk, however small the
    chunks are asked to be."""
    row = np.array([0, 0, 1, 5, 6])
    first = list(pack(row, np.array([1, 2, 0, 6, 5]), np.ones(5), bucket_items=4))
    second = list(pack(row[:3], np.array([1, 3, 0]), np.full(3, 2.0), bucket_items=4))
    # As the shuffle delivers them: sorted by bucket.
    table = pa.Table.from_batches(first + second).sort_by("bucket")
    chunks = list(unpacked(iter(table.to_batches(max_chunksize=1)), pairs=1, bucket_items=4))
    assert [sorted(set((chunk[0] // 4).tolist())) for chunk in chunks] == [[0], [1]]
    assert chunks[0][0].size == 6 and chunks[1][0].size == 2
