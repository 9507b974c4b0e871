"""The hashed user sample of a window, chosen as ``recs.batch.evaluation.tuning.sample_users``
chooses it, without bringing the users to the driver.

The single-node code orders users by the CRC-32 of their key (ties: first seen first) and
keeps them until about ``max_events`` events are in (at least ``SAMPLE_MIN_USERS`` users).
Here the users are counted per hash bucket (the top 16 bits: 65,536 small rows reach the
driver), and only the bucket where the cut falls is collected, user by user, to place it
exactly. The sample's events (about ``tuning_max_events``) are the only events the job
collects: tuning and the promotion gate run on the driver with the single-node code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recs.batch.evaluation.tuning import SAMPLE_MIN_USERS
from recs.batch.window import COLUMNS, conformed

BUCKET_SHIFT = 16


@dataclass
class Sample:
    users: DataFrame  # (user) of the sampled users
    window_events: int
    window_users: int
    kept_users: int

    @property
    def users_share(self) -> float:
        return self.kept_users / self.window_users if self.window_users else 1.0


def sample_users(window: DataFrame, max_events: int) -> Sample:
    """The sample of ``window`` (``recs_spark.weighting.in_window``'s rows)."""
    per_user = (window.groupBy("user")
                .agg(F.count("*").alias("n"), F.min("pos").alias("first"))
                .withColumn("h", F.crc32(F.col("user")))
                .withColumn("bucket", F.shiftright(F.col("h"), BUCKET_SHIFT))).persist()
    buckets = per_user.groupBy("bucket").agg(F.count("*").alias("users"),
                                             F.sum("n").alias("events")).toArrow()
    order = np.argsort(buckets["bucket"].to_numpy())
    bucket = buckets["bucket"].to_numpy()[order]
    users = buckets["users"].to_numpy()[order].astype(np.int64)
    events = buckets["events"].to_numpy()[order].astype(np.int64)
    total_events, total_users = int(events.sum()), int(users.sum())
    if total_events <= max_events:
        return Sample(per_user.select("user"), total_events, total_users, total_users)

    def ranked(b: int) -> pa.Table:
        """The users of bucket ``b`` in the single-node order: hash, then first seen."""
        return (per_user.where(F.col("bucket") == int(b)).select("user", "n", "first", "h")
                .orderBy("h", "first").toArrow())

    # Users whose running total of events stays within max_events (searchsorted "right").
    cumulative = np.cumsum(events)
    at = int(np.searchsorted(cumulative, max_events, side="right"))
    within = int(users[:at].sum())
    if at < bucket.size:
        before = int(cumulative[at - 1]) if at else 0
        sizes = ranked(int(bucket[at]))["n"].to_numpy()
        within += int(np.searchsorted(before + np.cumsum(sizes), max_events, side="right"))
    count = max(within, min(SAMPLE_MIN_USERS, total_users), 1)
    # The count-th user in that order is the last one kept.
    where = int(np.searchsorted(np.cumsum(users), count, side="left"))
    last = ranked(int(bucket[where])).slice(count - 1 - int(users[:where].sum()), 1)
    h, first = int(last["h"][0].as_py()), int(last["first"][0].as_py())
    kept = per_user.where((F.col("h") < h) | ((F.col("h") == h) & (F.col("first") <= first)))
    return Sample(kept.select("user"), total_events, total_users, count)


def sample_events(window: DataFrame, sample: Sample) -> pa.Table:
    """The sampled users' events in the window's order, as the weight step's events file
    (``recs.batch.window.COLUMNS``, the lander's types)."""
    rows = (window.join(F.broadcast(sample.users), "user").orderBy("pos")
            .select(*[c for c in COLUMNS if c != "ts"], "ts").toArrow())
    schema = conformed(COLUMNS)
    ts = rows["ts"].cast(pa.timestamp("ms", tz="UTC"))
    arrays = [ts if name == "ts" else rows[name].cast(schema.field(name).type)
              for name in COLUMNS]
    return pa.Table.from_arrays(arrays, schema=schema)
