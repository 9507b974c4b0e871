"""Train a version on Spark: weight, similarity, item arrays on the driver, lists per part.

What ``recs.batch.weighting.weight_arrays`` + ``recs.batch.steps.weight.
apply_catalog_categories`` + ``recs.batch.training.train`` + ``export_rows`` do on one
machine, for the blend with a discovery this engine computes
(``recs_spark.similarity.DISCOVERIES``). Only per-item data reaches the driver (the item ids
in their first-seen order, categories, trending, popularity and the top-K similarity): the
events and pairs stay in the cluster, and each partition of users writes its own row file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from recs.algorithms import catalog as algorithms
from recs.batch import trending
from recs.batch.config import BatchConfig
from recs.batch.interactions import Interactions
from recs.batch.model import Model
from recs.batch.steps.export import export_rows
from recs.batch.steps.weight import apply_catalog_categories
from recs.batch.training import algorithm_params, category_weights
from recs.contracts import layout
from recs.exceptions import ConfigError
from recs.formats import row_files
from recs_spark import lists
from recs_spark.similarity import DISCOVERIES, similarity
from recs_spark.stores import open_store
from recs_spark.weighting import in_window, weight


def check(config: BatchConfig) -> None:
    """Refuse a configuration this engine does not train (say so, rather than train another)."""
    if config.algorithm != algorithms.BLEND.name or config.discovery not in DISCOVERIES:
        raise ConfigError(
            f"RECS_ALGORITHM / RECS_DISCOVERY: the Spark engine trains the blend with a "
            f"discovery of {list(DISCOVERIES)}, not {config.algorithm!r} with "
            f"{config.discovery!r}")
    if config.short_discovery:
        raise ConfigError(
            f"RECS_SHORT_DISCOVERY: the Spark engine ranks every shopper with one discovery "
            f"part; leave it empty, not {config.short_discovery!r}")


@dataclass
class Trained:
    """What one training wrote and made: the driver's model holds every item's neighbours
    and trending, and the lists of the users flagged ``sample``."""

    model: Model
    row_keys: list[str] = field(default_factory=list)
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def train(spark: SparkSession, events: DataFrame, config: BatchConfig, as_of_ms: int,
          version: str, store_url: str, catalog: Mapping[str, Sequence[Any]] | None = None,
          sample: DataFrame | None = None, write: bool = True,
          deduplicated: bool = False, part_users: int = lists.PART_USERS) -> Trained:
    """Train on ``events`` (``recs_spark.weighting.read_events``' columns) as of
    ``as_of_ms``; with ``write``, the version's row files go to the store at ``store_url``.
    ``sample`` (a DataFrame of ``user``) flags the users whose lists the returned model
    holds; without ``write`` only they are ranked. ``deduplicated``: ``events`` went through
    ``recs_spark.weighting.deduplicate`` already. ``part_users`` (a multiple of the ranking's
    block, ``lists.PART_USERS``, for the lists to be the single-node ones with a popularity
    prior too) is how many users a row file holds."""
    check(config)
    facts = {item: list(fact) for item, fact in (catalog or {}).items()}
    # Only the columns the weighting reads are held (not the ids it no longer needs).
    window = in_window(events, config, as_of_ms, deduplicated).select(
        "user", "item_id", "event_type", "ts", "pos", "category").persist()
    weighted = weight(window, config, as_of_ms)
    # The items' aggregate is read twice (the cap's order, the driver's item arrays).
    weighted.items = weighted.items.persist()
    pairs = weighted.pairs.persist()

    # Items: those left with a positive pair, in first-seen order (the single-node codes).
    per_item = pairs.groupBy("item").agg(F.count("*").alias("users"))
    items = (weighted.items.join(per_item, "item").orderBy("first")
             .select("item", "category", "trending", "users").toArrow())
    n_items = items.num_rows
    item_ids = np.asarray(items["item"].to_pylist(), dtype=str)
    interactions = Interactions(
        user_ids=np.zeros(0, dtype="<U1"), item_ids=item_ids,
        user_index=np.zeros(0, np.int32), item_index=np.zeros(0, np.int32),
        weight=np.zeros(0, np.float32), top_event=np.zeros(0, np.int8),
        item_category=np.asarray(items["category"].to_pylist(), dtype=str),
        trending=items["trending"].to_numpy().astype(np.float32), as_of_ms=as_of_ms)
    apply_catalog_categories(interactions, facts)
    counts = items["users"].to_numpy().astype(np.float32)
    popularity = counts / max(float(counts.max(initial=0)), 1.0)

    index = spark.createDataFrame(pa.table({"item": items["item"],
                                            "i": pa.array(np.arange(n_items, dtype=np.int32))}))
    users = dense_index(weighted.users.join(pairs.select("user").distinct(), "user"), "first")
    coded = (pairs.join(F.broadcast(index), "item").join(users, "user")
             .select("user", "u", "i", "weight", "top_event")).persist()

    params = algorithm_params(config, config.discovery)
    sim = similarity(coded.select("u", "i", F.col("weight").alias("w")), config.discovery,
                     params)
    matrix = sp.csr_matrix((sim["value"].to_numpy().astype(np.float32),
                            (sim["row"].to_numpy(), sim["col"].to_numpy())),
                           shape=(n_items, n_items), dtype=np.float32)
    matrix.sort_indices()
    base = item_model(interactions, matrix, config)

    ranking = lists.Ranking(
        config=config, version=version, store_url=store_url, write=write, item_ids=item_ids,
        item_category=interactions.item_category,
        item_weight=category_weights(interactions.item_category, config)[0],
        item_popularity=popularity, similarity=matrix,
        category_names=base.category_names, category_indptr=base.category_indptr,
        category_items=base.category_items, category_scores=base.category_scores,
        catalog=facts, as_of_ms=as_of_ms)
    # The sample is at most tuning_max_events users: broadcast, the pairs stay where they are.
    flagged = (coded.join(F.broadcast(sample.select("user").withColumn("sample", F.lit(True))),
                          "user", "left") if sample is not None
               else coded.withColumn("sample", F.lit(False)))
    flagged = flagged.withColumn("sample", F.coalesce(F.col("sample"), F.lit(False)))
    if not write:
        flagged = flagged.where(F.col("sample"))
    n_users = users.count()
    n_parts = max(1, math.ceil(n_users / part_users))
    ranked = (flagged.withColumn("part", (F.col("u") / part_users).cast("long"))
              .repartition(n_parts, "part")
              .sortWithinPartitions("part", "u", "i")
              .select("part", "u", "user", "i", "weight", "top_event", "sample"))
    broadcast = spark.sparkContext.broadcast(ranking)
    try:
        out = ranked.mapInArrow(lists.rank_parts(broadcast), lists.OUTPUT_SCHEMA).toArrow()
    finally:
        broadcast.unpersist()
    order = np.argsort(out["part"].to_numpy(), kind="stable")
    samples = [Model.from_bytes(blob) for blob in out["sample"].take(pa.array(order))
               .to_pylist() if blob is not None]
    model = lists.join_users(samples, base)

    trained = Trained(model)
    if write:
        item_rows = list(export_rows(base, version, 0, facts))
        key = layout.row_file(version, 0)
        open_store(store_url).put(key, row_files.to_bytes(item_rows))
        files = [str(k) for k in out["key"].take(pa.array(order)).to_pylist() if k]
        trained.row_keys = [key, *files]
        trained.rows = len(item_rows) + int(pc.sum(out["rows"]).as_py() or 0)
    trained.counts = {
        "events": window.count(),
        "users": n_users,
        "items": n_items,
        "interactions": coded.count(),
        "users_with_recommendations": int(pc.sum(out["users"]).as_py() or 0),
        "items_with_neighbours": int(np.count_nonzero(np.diff(matrix.indptr))),
        "categories": int(base.category_names.size),
        "row_files": len(trained.row_keys),
    }
    for frame in (coded, pairs, weighted.items, window):
        frame.unpersist()
    return trained


def item_model(interactions: Interactions, similarity: sp.csr_matrix,
               config: BatchConfig) -> Model:
    """The neighbours and trending lists, as ``recs.batch.training.train`` makes them, in a
    model with no users (its rows are the item and trending rows)."""
    top = trending.top_items(interactions.trending, config.trending_size)
    per_category = trending.by_category(interactions.trending, interactions.item_category,
                                        config.trending_size)
    names = sorted(per_category)
    lengths = [per_category[name].size for name in names]
    category_items = (np.concatenate([per_category[name] for name in names]) if names
                      else np.zeros(0, np.int64))
    return Model(
        user_ids=np.zeros(0, dtype="<U1"), item_ids=interactions.item_ids,
        similarity=similarity, rec_indptr=np.zeros(1, np.int64),
        rec_items=np.zeros(0, np.int32), rec_scores=np.zeros(0, np.float32),
        rec_because=np.zeros(0, np.int32), rec_because_event=np.zeros(0, np.int8),
        trending_items=top.astype(np.int32),
        trending_scores=interactions.trending[top].astype(np.float32),
        category_names=np.asarray(names, dtype=str),
        category_indptr=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        category_items=category_items.astype(np.int32),
        category_scores=interactions.trending[category_items].astype(np.float32))


def dense_index(frame: DataFrame, order: str) -> DataFrame:
    """``frame`` with ``u``: each row's rank by ``order`` from 0 (distinct values), computed
    per range partition plus the partitions before it (no single-partition window)."""
    ranged = (frame.repartitionByRange(_slots(frame.sparkSession), order)
              .withColumn("_pid", F.spark_partition_id())).localCheckpoint()
    sizes = {row["_pid"]: row["count"] for row in ranged.groupBy("_pid").count().collect()}
    offsets, total = {}, 0
    for pid in sorted(sizes):
        offsets[pid] = total
        total += sizes[pid]
    offset = (F.create_map(*[F.lit(x) for kv in offsets.items() for x in kv])
              if offsets else F.create_map(F.lit(0), F.lit(0)))
    local = F.row_number().over(Window.partitionBy("_pid").orderBy(order)) - 1
    return ranged.withColumn("u", (F.element_at(offset, F.col("_pid")) + local).cast("long")
                             ).drop("_pid")


def _slots(spark: SparkSession) -> int:
    return max(1, int(spark.sparkContext.defaultParallelism))
