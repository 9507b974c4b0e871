"""Item-item similarities computed distributed: the self-join of the interactions on the
user, summed per item pair, each item's top-K kept with a window function.

The same definitions as ``recs.algorithms.knn`` (``RP3BetaRecommender.compute_similarity``
and ``cosine``): no diagonal, only positive values, ties at the K-th place to the lower item
index. Sums run in double precision and the values are compared as float32, as the
single-node code stores them; values that differ only in the last bits may still order two
near-equal neighbours differently (the engine-equivalence tests allow for that).

Scale: the join emits, per user, the square of their item count (at most
``max_items_per_user`` squared), the same co-occurrences the single-node product visits;
it is shuffled, never held at once. The result (K per item) is collected to the driver and
broadcast to the ranking, so the catalogue's items x K must fit an executor's memory (1 M
items x 100 neighbours is about 1 GB as CSR).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from recs.exceptions import ConfigError

# The discovery models of the blend this engine computes (the tuning is restricted to them).
DISCOVERIES = ("rp3beta", "cosine")


def similarity(pairs: DataFrame, discovery: str, params: dict[str, object]) -> DataFrame:
    """(row, col, value float) of the top-``neighbours`` similarity of ``discovery``.

    ``pairs`` holds (u, i, w): dense user and item indices and the float32 weights."""
    neighbours = int(str(params["neighbours"]))
    if discovery == "rp3beta":
        scored = _rp3beta(pairs, float(str(params["alpha"])), float(str(params["beta"])))
    elif discovery == "cosine":
        scored = _cosine(pairs, float(str(params["shrinkage"])), float(str(params["alpha"])))
    else:
        raise ConfigError(f"RECS_DISCOVERY: the Spark engine computes {list(DISCOVERIES)}, "
                          f"not {discovery!r}")
    best = Window.partitionBy("row").orderBy(F.col("value").desc(), F.col("col"))
    return (scored.where(F.col("value") > 0)
            .withColumn("_rank", F.row_number().over(best))
            .where(F.col("_rank") <= neighbours).drop("_rank"))


def _products(left: DataFrame, right: DataFrame) -> DataFrame:
    """sum over u of left(u, i) * right(u, j) for i != j: (row=i, col=j, dot)."""
    a = left.select("u", F.col("i").alias("row"), F.col("v").alias("a"))
    b = right.select("u", F.col("i").alias("col"), F.col("v").alias("b"))
    return (a.join(b, "u").where(F.col("row") != F.col("col"))
            .groupBy("row", "col").agg(F.sum(F.col("a") * F.col("b")).alias("dot")))


def _rp3beta(pairs: DataFrame, alpha: float, beta: float) -> DataFrame:
    """``sim(i, j) = sum_u P(u | i) P(j | u) / pop(j) ** beta``, ``P`` from ``w ** alpha``."""
    b = (pairs.where(F.col("w") > 0)
         .select("u", "i", F.pow(F.col("w").cast("double"), alpha).cast("float")
                 .cast("double").alias("b"))
         .where(F.col("b") > 0))
    per_user = Window.partitionBy("u")
    per_item = Window.partitionBy("i")
    walk = b.select("u", "i", (F.col("b") / F.sum("b").over(per_user)).alias("to_item"),
                    (F.col("b") / F.sum("b").over(per_item)).alias("to_user"),
                    F.count("*").over(per_item).alias("pop"))
    penalty = walk.select(F.col("i").alias("col"), F.pow(
        F.greatest(F.col("pop").cast("double"), F.lit(1.0)), -beta).alias("penalty")
    ).distinct()
    dots = _products(walk.select("u", "i", F.col("to_user").alias("v")),
                     walk.select("u", "i", F.col("to_item").alias("v")))
    return dots.join(F.broadcast(penalty), "col").select(
        "row", "col", (F.col("dot") * F.col("penalty")).cast("float").alias("value"))


def _cosine(pairs: DataFrame, shrinkage: float, alpha: float) -> DataFrame:
    """``x_i . x_j / (|x_i| ** (2 alpha) |x_j| ** (2 (1 - alpha)) + shrinkage)``."""
    x = pairs.select("u", "i", F.col("w").cast("double").alias("v"))
    norms = x.groupBy("i").agg(F.sum(F.col("v") * F.col("v")).alias("sq"))
    left = norms.select(F.col("i").alias("row"),
                        F.pow("sq", alpha).cast("float").cast("double").alias("ln"))
    right = norms.select(F.col("i").alias("col"),
                         F.pow("sq", 1.0 - alpha).cast("float").cast("double").alias("rn"))
    return (_products(x, x).join(F.broadcast(left), "row").join(F.broadcast(right), "col")
            .select("row", "col", (F.col("dot") / (F.col("ln") * F.col("rn") + shrinkage))
                    .cast("float").alias("value")))
