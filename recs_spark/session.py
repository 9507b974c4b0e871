"""The SparkSession the job runs in.

On EMR Serverless ``spark-submit`` sets the master and the resources: the session takes
them as they are. Anywhere else (tests, ``recs recommend-batch --engine spark``, the local
demo) no master is configured, and the session runs in local mode on every core with few
shuffle partitions: the default 200 cost more in task overhead than small windows take.
A big window raises them (``size_shuffles``), so no partition's sort outgrows the memory a
task has.
"""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

# Shuffle partitions in local mode: one per core. Adaptive execution is off there: on the
# small windows one machine trains, its re-planning between stages costs more than it
# saves; EMR Serverless keeps Spark's default (on).
LOCAL_SHUFFLE_PARTITIONS = max(2, os.cpu_count() or 2)
# Rows per Arrow batch between the JVM and the Python workers (Spark's default: 10,000). The
# workers' passes (the similarity's products and top-K, the ranking) take whole chunks of
# rows, so fewer, larger batches mean fewer round trips for the same memory per chunk.
ARROW_BATCH_ROWS = 65_536
# Events per shuffle partition, at most: each task of the event-id dedup then sorts a few
# hundred MB of whole events, and of the weighting's aggregates and the similarity's first
# pass less, which a task's share of a few-GB heap holds (20 M events in 8 partitions,
# a 6 GB driver: nothing spilled). With one partition per core a 100 M window would sort
# 50 M whole events a task, spilling and merging many times over.
SHUFFLE_PARTITION_ROWS = 2_500_000
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
CLEANER_INTERVAL = "5min"


def get_session(app: str = "recs-batch") -> SparkSession:
    """The active session, or a new one (local mode when no master is configured)."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app)
    # spark-submit starts the JVM first and hands its gateway to this process.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        # The executors are this interpreter's children: the same environment's packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = (builder.master("local[*]")
                   .config(SHUFFLE_PARTITIONS, str(LOCAL_SHUFFLE_PARTITIONS))
                   .config("spark.default.parallelism", str(LOCAL_SHUFFLE_PARTITIONS))
                   .config("spark.ui.enabled", "false")
                   # Loopback only: nothing here needs the machine's other interfaces.
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.sql.adaptive.enabled", "false")
                   # The shuffle files of a finished training go when the JVM collects
                   # their plans: Spark's 30 minutes between forced collections let a long
                   # job's two trainings (version and shadow) hold the laptop's disk at once.
                   .config("spark.cleaner.periodicGC.interval", CLEANER_INTERVAL)
                   .config("spark.driver.memory", os.environ.get("RECS_SPARK_DRIVER_MEMORY",
                                                                 "2g")))
    builder = (builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_ROWS)))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("RECS_SPARK_LOG_LEVEL", "WARN"))
    return session


def size_shuffles(spark: SparkSession, rows: int) -> int:
    """Set the session's shuffle partitions for a window of ``rows`` events and return them:
    the session's start-up setting (local mode: one per core; EMR Serverless: Spark's
    default or the job's ``--conf``), or one per ``SHUFFLE_PARTITION_ROWS`` if that is more.
    The start-up setting is the floor each time, so a small window after a big one in the
    same session is back to few partitions."""
    base = int(spark.sparkContext.getConf().get(SHUFFLE_PARTITIONS, "200"))
    partitions = max(base, -(-rows // SHUFFLE_PARTITION_ROWS))
    spark.conf.set(SHUFFLE_PARTITIONS, str(partitions))
    return partitions
