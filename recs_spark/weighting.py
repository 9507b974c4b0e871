"""The window's events as DataFrames, and the single-node weighting's maths on them.

Mirrors ``recs.batch.weighting``: the first row of each ``event_id`` (in file then row
order), the window ``[as_of - window, as_of)``, the user key (``user_id``, else the marked
session id), ``weight = type weight x 0.5 ** (age / half-life)`` summed per (user, item)
with the strongest event type, positive pairs only, each user's ``max_items_per_user``
heaviest, each item's latest reported category and its trending score.

Every event carries ``pos`` (its file's index in key order, then its row): the single-node
code keeps the first row of an id and orders users and items by first appearance in the
window's table, and ties (the per-user cap, the neighbours' top-K, the lists) go to the
lower index, so the same order here gives the same lists. Executors read the event files
through the ObjectStore port (``recs.batch.window.read_file``: the same conformed columns,
the same unusable files left out), never through a Hadoop connector.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from recs.batch.config import BatchConfig
from recs.batch.interactions import EVENT_CODE, SESSION_PREFIX
from recs.batch.weighting import DAY_MS
from recs.batch.window import FileReport, read_file
from recs.exceptions import NotFound
from recs_spark.session import size_shuffles
from recs_spark.stores import open_store

# Rows of a file's table per Arrow batch handed back to Spark.
BATCH_ROWS = 65_536
# A file's index is pos's high bits: up to 2**31 rows a file, 2**32 files.
POS_SHIFT = 31

EVENTS_SCHEMA = ("pos long, event_id string, user_id string, session_id string, "
                 "item_id string, event_type string, ts long, category string")
ARROW_SCHEMA = pa.schema([
    ("pos", pa.int64()), ("event_id", pa.string()), ("user_id", pa.string()),
    ("session_id", pa.string()), ("item_id", pa.string()), ("event_type", pa.string()),
    ("ts", pa.int64()), ("category", pa.string()),
])


def read_events(spark: SparkSession, store_url: str, keys: Sequence[str],
                markers: bool = False) -> DataFrame:
    """The events of the files at ``keys`` (in this order), each with its ``pos`` and its
    time as epoch ms; files that cannot be read are left out, as the weight step does.

    With ``markers``, each file also gives one row with ``pos = -(file + 1)``: its key
    (``item_id``), its size in bytes (``ts``), its rows (``user_id``, as text) and, when it
    was left out, why (``event_id``), which ``read_window`` turns into the weight step's
    ``FileReport`` and the window's size."""
    listing = spark.createDataFrame(
        pa.table({"file": pa.array(range(len(keys)), pa.int64()),
                  "key": pa.array(list(keys), pa.string())}))
    listing = listing.repartition(max(1, min(len(keys), spark.sparkContext.defaultParallelism
                                             * 4)), "file")

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        store = open_store(store_url)
        for batch in batches:
            for file, key in zip(batch["file"].to_pylist(), batch["key"].to_pylist(),
                                 strict=True):
                try:
                    blob = store.get(key)
                except NotFound:
                    yield _marker(file, key, 0, GONE)
                    continue
                table, problem = read_file(blob)
                yield _marker(file, key, len(blob), None if table is not None else problem,
                              table.num_rows if table is not None else 0)
                if table is not None:
                    yield from events_batches(table, int(file))

    events = listing.mapInArrow(read, EVENTS_SCHEMA)
    return events if markers else events.where(F.col("pos") >= 0)


GONE = "listed but no longer stored"


def _marker(file: int, key: str, size: int, reason: str | None,
            rows: int = 0) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"pos": [-(file + 1)], "event_id": [reason], "user_id": [str(rows)], "session_id": [None],
         "item_id": [key], "event_type": [None], "ts": [size], "category": [None]},
        schema=ARROW_SCHEMA)


def read_window(spark: SparkSession, store_url: str,
                keys: Sequence[str]) -> tuple[DataFrame, FileReport]:
    """The deduplicated events of the files at ``keys`` (persisted: the caller unpersists
    them), and what reading made of the files (``recs.batch.window.FileReport``, as the
    weight step reports it). The files are read once; the session's shuffle partitions are
    sized from their rows (``recs_spark.session.size_shuffles``) before the first shuffle."""
    raw = read_events(spark, store_url, keys, markers=True).persist()
    files = (raw.where(F.col("pos") < 0).select("pos", "event_id", "item_id", "ts", "user_id")
             .toArrow().sort_by([("pos", "descending")]))
    size_shuffles(spark, sum(int(rows) for rows in files["user_id"].to_pylist()))
    report = FileReport()
    for reason, key, size in zip(files["event_id"].to_pylist(), files["item_id"].to_pylist(),
                                 files["ts"].to_pylist(), strict=True):
        if reason != GONE:
            report.bytes += int(size)
        if reason is not None:
            report.skipped.append({"key": key, "reason": reason, "bytes": int(size)})
    events = deduplicate(raw.where(F.col("pos") >= 0)).persist()
    events.count()  # held before the files' rows go
    raw.unpersist()
    return events, report


def events_batches(table: pa.Table, file: int) -> Iterator[pa.RecordBatch]:
    """A conformed events table (``read_file``'s) as ``ARROW_SCHEMA`` batches."""
    ts = table["ts"]
    if pa.types.is_timestamp(ts.type):
        ts = ts.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    pos = pa.array((np.int64(file) << POS_SHIFT) + np.arange(table.num_rows, dtype=np.int64))
    out = pa.table([pos, *(table[name].cast(pa.string()) for name in
                           ("event_id", "user_id", "session_id", "item_id", "event_type")),
                    ts.cast(pa.int64()), table["category"].cast(pa.string())],
                   schema=ARROW_SCHEMA)
    yield from out.to_batches(max_chunksize=BATCH_ROWS)


def deduplicate(events: DataFrame) -> DataFrame:
    """The first row (lowest ``pos``) of each ``event_id``, and every row without one."""
    first = Window.partitionBy("event_id")
    with_id = (events.where(F.col("event_id").isNotNull())
               .withColumn("_first", F.min("pos").over(first))
               .where(F.col("pos") == F.col("_first")).drop("_first"))
    return with_id.unionByName(events.where(F.col("event_id").isNull()))


def in_window(events: DataFrame, config: BatchConfig, as_of_ms: int,
              deduplicated: bool = False) -> DataFrame:
    """Deduplicated events of ``[as_of - window, as_of)`` with a shopper, keyed by user
    (``deduplicated``: ``events`` went through ``deduplicate`` already)."""
    start = as_of_ms - config.training_window_days * DAY_MS
    kept = (events if deduplicated else deduplicate(events)).where(
        (F.col("ts") < as_of_ms) & (F.col("ts") >= start)
        & (F.col("user_id").isNotNull() | F.col("session_id").isNotNull()))
    return kept.withColumn("user", user_key())


def user_key() -> Column:
    return F.coalesce(F.col("user_id"), F.concat(F.lit(SESSION_PREFIX), F.col("session_id")))


def _lookup(values: dict[str, float] | dict[str, int], column: str, default: float) -> Column:
    if not values:
        return F.lit(default)
    table = F.create_map(*[F.lit(x) for kv in values.items() for x in kv])
    return F.coalesce(F.element_at(table, F.col(column)), F.lit(default))


@dataclass
class Weighted:
    """The window's weighted interactions as DataFrames.

    ``pairs``: (user, item, weight float, top_event int) for the positive, capped pairs;
    ``items``: (item, first, category, trending) for every item of the window;
    ``users``: (user, first) for every user of the window."""

    pairs: DataFrame
    items: DataFrame
    users: DataFrame


def weight(window: DataFrame, config: BatchConfig, as_of_ms: int) -> Weighted:
    """``recs.batch.weighting.weight_arrays`` on a window from ``in_window``."""
    type_weight = _lookup({t: config.weight_of(t) for t in EVENT_CODE} | dict(
        config.event_weights), "event_type", 0.0)
    rank = _lookup(dict(EVENT_CODE), "event_type", -1)
    age_days = (F.lit(as_of_ms) - F.col("ts")).cast("double") / DAY_MS
    events = window.select(
        "user", "item_id", "ts", "pos", "category",
        type_weight.cast("double").alias("type_weight"), rank.cast("int").alias("rank"),
        (F.pow(F.lit(2.0), -age_days / config.half_life_days) * type_weight).alias("w"),
    )
    items = events.groupBy(F.col("item_id").alias("item")).agg(
        F.min("pos").alias("first"),
        # The latest report; at equal times the later row (as the single-node code).
        F.max_by("category", F.when(F.col("category").isNotNull(),
                                    F.struct("ts", "pos"))).alias("category"),
        F.sum(F.when(F.col("ts") >= as_of_ms - config.trending_window_days * DAY_MS,
                     F.greatest(F.col("type_weight"), F.lit(0.0))
                     * F.pow(F.lit(2.0), -age_days / config.trending_half_life_days))
              .otherwise(0.0)).alias("trending"),
    ).withColumn("category", F.coalesce(F.col("category"), F.lit("")))
    users = events.groupBy("user").agg(F.min("pos").alias("first"))
    sums = (events.groupBy("user", F.col("item_id").alias("item"))
            .agg(F.sum("w").alias("weight"), F.max("rank").alias("top_event"))
            .where(F.col("weight") > 1e-9))
    # The cap keeps each user's heaviest pairs; at equal weights the item seen first.
    order = Window.partitionBy("user").orderBy(F.col("weight").desc(), F.col("first"))
    # Per-item rows: broadcast, so the pairs are shuffled once more (by user, for the cap).
    capped = (sums.join(F.broadcast(items.select("item", "first")), "item")
              .withColumn("_rank", F.row_number().over(order))
              .where(F.col("_rank") <= config.max_items_per_user)
              .select("user", "item", F.col("weight").cast("float").alias("weight"),
                      F.col("top_event").cast("byte").alias("top_event")))
    return Weighted(capped, items, users)
