"""Item-item similarities computed distributed: co-occurrences summed per chunk of users by a
sparse product, then summed per item and cut to its top-K, both on the executors.

The same definitions as ``recs.algorithms.knn`` (``RP3BetaRecommender.compute_similarity``
and ``cosine``): no diagonal, only positive values, ties at the K-th place to the lower item
index. Sums run in double precision and the values are compared as float32, as the
single-node code stores them; values that differ only in the last bits may still order two
near-equal neighbours differently (the engine-equivalence tests allow for that).

Two passes, each a shuffle and a sort (no Spark aggregation or window: the sums are sparse
products and the cut is a sort of each chunk's rows):

1. the interactions, hash-partitioned by user and sorted, go to ``mapInArrow`` in chunks of
   about ``chunk_pairs`` (whole users, their normalisation applied first); each chunk is one
   sparse product ``X^T Y`` (scipy) that emits each item pair its users share once, with the
   chunk's sum, packed: one compressed blob per bucket of ``BUCKET_ITEMS`` row items
   (``pack``), not one Spark row per pair;
2. those blobs, hash-partitioned by bucket and sorted, are unpacked and summed per pair in
   chunks of whole buckets, scaled (RP3beta's popularity penalty, cosine's norms: per-item
   arrays, broadcast) and cut to each row's top ``neighbours``.

Scale: a chunk's memory is its product (at most the squared items of each user,
``max_items_per_user`` bounding them); the shuffle between the passes holds each chunk's
distinct pairs, about 8 bytes a pair packed, and is the job's largest:
it grows faster than the events, as each user's pairs do. A top-K chunk holds at least one
bucket's sums from every product chunk. The result (K per item) is collected to the driver
and broadcast to the ranking, so the catalogue's items x K must fit an executor's memory
(1 M items x 100 neighbours is about 1 GB as CSR).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recs.exceptions import ConfigError

# The discovery models of the blend this engine computes (the tuning is restricted to them).
DISCOVERIES = ("rp3beta", "cosine")
# Rows per chunk of the products (whole users), partial sums per chunk of the top-K (whole
# buckets).
CHUNK_PAIRS = 1_000_000
# Row items per partition of the top-K pass (at least the shuffle's partitions): its blobs
# (the items' packed partial sums) are sorted per partition, and a smaller sort stays in
# memory.
TOP_ITEMS_PER_PARTITION = 2_500
# Row items per packed blob of partial sums (``pack``): a bucket's sums from every chunk are
# summed at once, so its share of the pairs must fit a task; enough rows a blob that the
# compression has runs to work on.
BUCKET_ITEMS = 256
CODEC = "zstd"
PACKED_SCHEMA = "bucket int, pairs int, blob binary"
OUTPUT_SCHEMA = "row int, col int, value float"


def similarity(pairs: DataFrame, discovery: str, params: dict[str, object],
               chunk_pairs: int = CHUNK_PAIRS) -> pa.Table:
    """(row, col, value float32) of the top-``neighbours`` similarity of ``discovery``, on
    the driver.

    ``pairs`` holds (u, i, w): dense user and item indices and the float32 weights;
    ``chunk_pairs``: the rows of one chunk of the products (whole users), and the partial
    sums of one chunk of the top-K (whole buckets of row items)."""
    neighbours = int(str(params["neighbours"]))
    x = pairs.select(F.col("u").cast("long"), F.col("i").cast("int"),
                     F.col("w").cast("double").alias("v"))
    if discovery == "rp3beta":
        alpha, beta = float(str(params["alpha"])), float(str(params["beta"]))
        # P from w ** alpha, stored as float32 as the single-node code stores it.
        x = (x.where(F.col("v") > 0)
             .select("u", "i", F.pow("v", alpha).cast("float").cast("double").alias("v"))
             .where(F.col("v") > 0))
        per_item = _per_item(x, F.sum("v").alias("total"), F.count("*").alias("pop"))
        arrays = {"total": per_item["total"],
                  "penalty": np.power(np.maximum(per_item["pop"], 1.0), -beta)}
        score: Scorer = _rp3beta_score
    elif discovery == "cosine":
        shrinkage, alpha = float(str(params["shrinkage"])), float(str(params["alpha"]))
        sq = _per_item(x, F.sum(F.col("v") * F.col("v")).alias("sq"))["sq"]
        arrays = {"ln": np.power(sq, alpha).astype(np.float32).astype(np.float64),
                  "rn": np.power(sq, 1.0 - alpha).astype(np.float32).astype(np.float64),
                  "shrinkage": np.float64(shrinkage)}
        score = _cosine_score
    else:
        raise ConfigError(f"RECS_DISCOVERY: the Spark engine computes {list(DISCOVERIES)}, "
                          f"not {discovery!r}")
    spark = pairs.sparkSession
    slots = int(spark.conf.get("spark.sql.shuffle.partitions") or 1)
    n_items = max((array.size for array in arrays.values()), default=0)
    top_slots = max(slots, -(-n_items // TOP_ITEMS_PER_PARTITION))
    shared = spark.sparkContext.broadcast(arrays)
    per_user = discovery == "rp3beta"
    # Read here, on the driver: the closures carry it to the workers.
    bucket_items = BUCKET_ITEMS

    def products(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        total = shared.value["total"] if per_user else None
        for chunk in chunks(batches, "u", chunk_pairs):
            yield from _products(chunk, total, bucket_items)

    def top(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        values = shared.value
        for rows, cols, dots in unpacked(batches, chunk_pairs, bucket_items):
            yield from _top(rows, cols, dots, values, score, neighbours)

    try:
        return (x.repartition(slots, "u").sortWithinPartitions("u")
                .mapInArrow(products, PACKED_SCHEMA)
                .repartition(top_slots, "bucket").sortWithinPartitions("bucket")
                .mapInArrow(top, OUTPUT_SCHEMA).toArrow())
    finally:
        shared.unpersist()


Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]], np.ndarray]


def _rp3beta_score(row: np.ndarray, col: np.ndarray, dot: np.ndarray,
                   arrays: dict[str, np.ndarray]) -> np.ndarray:
    """``sim(i, j) = sum_u P(u | i) P(j | u) / pop(j) ** beta``."""
    return (dot * arrays["penalty"][col]).astype(np.float32)


def _cosine_score(row: np.ndarray, col: np.ndarray, dot: np.ndarray,
                  arrays: dict[str, np.ndarray]) -> np.ndarray:
    """``x_i . x_j / (|x_i| ** (2 alpha) |x_j| ** (2 (1 - alpha)) + shrinkage)``."""
    return (dot / (arrays["ln"][row] * arrays["rn"][col] + arrays["shrinkage"])
            ).astype(np.float32)


def _per_item(x: DataFrame, *columns: F.Column) -> dict[str, np.ndarray]:
    """Per-item aggregates of ``x`` as dense float64 arrays indexed by ``i``."""
    table = x.groupBy("i").agg(*columns).toArrow()
    index = table["i"].to_numpy()
    size = int(index.max()) + 1 if index.size else 0
    out = {}
    for name in table.column_names:
        if name != "i":
            dense = np.zeros(size, np.float64)
            dense[index] = table[name].to_numpy().astype(np.float64)
            out[name] = dense
    return out


def chunks(batches: Iterator[pa.RecordBatch], key: str, rows: int) -> Iterator[pa.Table]:
    """Tables of about ``rows`` rows from batches sorted by ``key``, each holding every row of
    the keys it holds."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        held.append(batch)
        count += batch.num_rows
        if count < rows:
            continue
        table = pa.Table.from_batches(held).combine_chunks()
        keys = table[key].to_numpy()
        # The last key may go on in the next batch: its rows wait for the next chunk.
        cut = int(np.searchsorted(keys, keys[-1], side="left"))
        if cut == 0:
            continue
        yield table.slice(0, cut)
        rest = table.slice(cut)
        held, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(held)


def _products(chunk: pa.Table, total: np.ndarray | None,
              bucket_items: int) -> Iterator[pa.RecordBatch]:
    """sum over the chunk's users of a(u, i) * b(u, j), i != j, where a = b = v, or with
    ``total`` (RP3beta) a = v / total[i] (P(u | i)) and b = v / sum_j v(u, j) (P(j | u)),
    packed per ``bucket_items`` row items (``pack``)."""
    items, i = np.unique(chunk["i"].to_numpy(), return_inverse=True)
    users, user = np.unique(chunk["u"].to_numpy(), return_inverse=True)
    v = chunk["v"].to_numpy()
    a, b = v, v
    if total is not None:
        a = v / total[items][i]
        b = v / np.bincount(user, weights=v, minlength=users.size)[user]
    shape = (users.size, items.size)
    product = (sp.csc_matrix((a, (user, i)), shape=shape).T
               @ sp.csr_matrix((b, (user, i)), shape=shape)).tocsr()
    product.sort_indices()
    product = product.tocoo()
    keep = product.row != product.col
    # ``items`` ascends, so the pairs stay in (row, col) order as item indices.
    yield from pack(items[product.row[keep]], items[product.col[keep]], product.data[keep],
                    bucket_items)


def pack(row: np.ndarray, col: np.ndarray, dot: np.ndarray,
         bucket_items: int = BUCKET_ITEMS) -> Iterator[pa.RecordBatch]:
    """(bucket, pairs, blob) batches of the (row, col) ordered partial sums: one blob per
    ``bucket_items`` row items, each row's pair count, its cols as gaps from the previous
    col and its sums, byte-planed (the sums' sign and exponent bytes sit together, the gaps'
    high bytes are zeros) and zstd-compressed: a Spark row per pair would cost 36 bytes
    before the shuffle's compression, on the job's largest shuffle."""
    if row.size == 0:
        return
    bucket = row // bucket_items
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], row.size]
    new_row = np.r_[True, row[1:] != row[:-1]]
    gap = np.where(new_row, col, col - np.r_[0, col[:-1]]).astype(np.int32)
    local = (row - bucket * bucket_items).astype(np.int64)
    buckets, sizes, blobs = [], [], []
    for start, end in zip(starts, ends, strict=True):
        counts = np.bincount(local[start:end], minlength=bucket_items).astype(np.int32)
        body = b"".join((counts.tobytes(), _planes(gap[start:end]),
                         _planes(dot[start:end].astype(np.float64))))
        buckets.append(int(bucket[start]))
        sizes.append(int(end - start))
        blobs.append(pa.compress(body, codec=CODEC, asbytes=True))
    yield pa.record_batch({"bucket": pa.array(buckets, pa.int32()),
                           "pairs": pa.array(sizes, pa.int32()),
                           "blob": pa.array(blobs, pa.binary())})


def unpack(bucket: int, pairs: int, blob: bytes, bucket_items: int = BUCKET_ITEMS,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (row, col, dot) arrays of one ``pack`` blob."""
    head = 4 * bucket_items
    body = np.frombuffer(pa.decompress(blob, decompressed_size=head + 12 * pairs,
                                       codec=CODEC, asbytes=True), np.uint8)
    counts = body[:head].view(np.int32)
    gap = _unplaned(body[head:head + 4 * pairs], np.int32)
    dot = _unplaned(body[head + 4 * pairs:], np.float64)
    row = np.repeat(np.arange(bucket_items, dtype=np.int64) + bucket * bucket_items, counts)
    # Each row's first col is whole, the others are gaps: a running sum restarted per row.
    running = np.cumsum(gap, dtype=np.int64)
    firsts = np.cumsum(counts) - counts
    present = counts > 0
    restart = np.repeat(running[firsts[present]] - gap[firsts[present]], counts[present])
    return row, running - restart, dot


def _planes(values: np.ndarray) -> bytes:
    """The values' bytes, all the first bytes, then all the second, and so on."""
    return np.ascontiguousarray(values.view(np.uint8).reshape(-1, values.itemsize).T).tobytes()


def _unplaned(data: np.ndarray, dtype: type[np.generic]) -> np.ndarray:
    width = np.dtype(dtype).itemsize
    return np.ascontiguousarray(data.reshape(width, -1).T).view(dtype).ravel()


def unpacked(batches: Iterator[pa.RecordBatch], pairs: int, bucket_items: int = BUCKET_ITEMS,
             ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(row, col, dot) of about ``pairs`` partial sums from batches sorted by bucket, each
    holding every partial sum of the buckets it holds."""
    held: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    count, current = 0, -1
    for batch in batches:
        buckets = batch.column("bucket").to_numpy()
        sizes = batch.column("pairs").to_numpy()
        blobs = batch.column("blob")
        for k in range(batch.num_rows):
            if buckets[k] != current:
                if count >= pairs:
                    yield _joined(held)
                    held, count = [], 0
                current = int(buckets[k])
            held.append(unpack(current, int(sizes[k]), blobs[k].as_py(), bucket_items))
            count += int(sizes[k])
    if held:
        yield _joined(held)


def _joined(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    row, col, dot = zip(*parts, strict=True)
    return np.concatenate(row), np.concatenate(col), np.concatenate(dot)


def _top(rows: np.ndarray, cols: np.ndarray, dots: np.ndarray, arrays: dict[str, np.ndarray],
         score: Scorer, neighbours: int) -> Iterator[pa.RecordBatch]:
    """The partial sums summed per (row, col), scored, each row's best ``neighbours``
    positive values (ties to the lower col)."""
    first = int(rows.min())
    summed = sp.coo_matrix(
        (dots, (rows - first, cols)),
        shape=(int(rows.max()) - first + 1, int(cols.max()) + 1)).tocsr()
    summed.sum_duplicates()
    summed = summed.tocoo()
    row, col = summed.row.astype(np.int64) + first, summed.col.astype(np.int64)
    value = score(row, col, summed.data, arrays)
    positive = value > 0
    row, col, value = row[positive], col[positive], value[positive]
    # By row, then value descending, then col: a positive float32's bits order as its value,
    # and the stable sort keeps the rows' ascending cols (CSR order) among equal values.
    descending = np.uint64(0xFFFFFFFF) - value.view(np.uint32).astype(np.uint64)
    order = np.argsort(((row - first).astype(np.uint64) << np.uint64(32)) | descending,
                       kind="stable")
    row, col, value = row[order], col[order], value[order]
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    rank = np.arange(row.size) - np.repeat(starts, np.diff(np.r_[starts, row.size]))
    best = rank < neighbours
    out = pa.table({"row": pa.array(row[best], pa.int32()), "col": pa.array(col[best], pa.int32()),
                    "value": pa.array(value[best], pa.float32())})
    yield from out.to_batches(max_chunksize=1 << 20)
