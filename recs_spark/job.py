"""The Spark job of the nightly batch: ``python -m recs_spark.job --store <url> --state <json>``.

``<json>`` is the weight step's state on the spark engine (``version``, ``as_of``,
``catalog_key``, ``counts``); the settings are the ``RECS_*`` variables
(``BatchConfig.from_env``). The job reads the window's event files, tunes on the hashed
user sample with the single-node tuner (on the driver), trains on the whole window, and
writes under the version (``recs.contracts.layout``):

- ``rows/part-*.parquet``: every DynamoDB row of the version (``recs.formats.row_files``),
  part 0 the item neighbours and trending, the others a part of the users each;
- ``params.json``, and ``tuning.json`` (the choice, which a re-run of the version reuses);
- ``model.npz``: the sample users' lists with every item's neighbours and trending (what
  the gate compares the next versions against); ``shadow.npz``: the same users' lists from
  the window before the hold-out, which the evaluate step scores;
- ``interactions/<version>/events.parquet``: the sample's events (tuning, the hold-out);
- last, ``spark.json`` (``recs.contracts.state.SparkManifest``): a version without it was
  not finished, and the train step reads everything else from it.

Tuning tries only the discoveries this engine computes (``recs_spark.similarity.
DISCOVERIES``); the record says which (``discoveries``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from recs.batch.config import BatchConfig
from recs.batch.model import Model
from recs.batch.steps import as_of, midnight_ms
from recs.batch.steps.train import MIN_TUNING_EVENTS, recorded_choice
from recs.batch.steps.weight import refuse_past_share
from recs.batch.weighting import DAY_MS
from recs.batch.window import FileReport, window_keys
from recs.contracts import layout
from recs.contracts.state import BatchState, Counts, SparkManifest, TuningRecord
from recs_spark.sample import Sample, sample_events, sample_users
from recs_spark.session import get_session
from recs_spark.similarity import DISCOVERIES
from recs_spark.stores import open_store
from recs_spark.training import Trained, check, train
from recs_spark.weighting import in_window, read_window


@dataclass
class Built:
    """One version trained on Spark: its rows are in the store already."""

    config: BatchConfig  # as tuned
    trained: Trained
    events: pa.Table  # the sample's events
    tuning: TuningRecord = field(default_factory=lambda: cast(TuningRecord, {}))
    shadow: Model | None = None
    files: FileReport = field(default_factory=FileReport)  # the event files read and skipped


def build(spark: SparkSession, store_url: str, keys: Sequence[str], config: BatchConfig,
          as_of_ms: int, version: str, catalog: Mapping[str, Sequence[Any]] | None = None,
          tune: bool = True, shadow: bool = True,
          clock: Callable[[], float] = time.perf_counter) -> Built:
    """Tune (or reuse the version's recorded choice), train and write the rows; with
    ``shadow``, also the lists of the sample's users from the window before the hold-out.
    Unreadable event files are skipped and counted; past ``max_unreadable_share`` of the
    bytes the job fails (``UnreadableInput``), as the weight step does."""
    check(config)
    store = open_store(store_url)
    events, report = read_window(spark, store_url, keys)
    refuse_past_share("events", report, config.max_unreadable_share)
    window = in_window(events, config, as_of_ms, deduplicated=True).persist()
    sample = sample_users(window, config.tuning_max_events)
    sampled = sample_events(window, sample)
    tuning: TuningRecord = {}
    if tune and config.tuning_seconds > 0:
        if sample.window_events >= MIN_TUNING_EVENTS:
            config, tuning = _tuned(config, sampled, sample, as_of_ms, version, store, clock)
        else:
            tuning = {"skipped": f"{sample.window_events} events in the window; tuning "
                                 f"needs at least {MIN_TUNING_EVENTS}"}
    window.unpersist()
    trained = train(spark, events, config, as_of_ms, version, store_url, catalog,
                    sample=sample.users, deduplicated=True)
    built = Built(config, trained, sampled, tuning, files=report)
    if shadow:
        holdout_start = int(as_of_ms - config.holdout_days * DAY_MS)
        built.shadow = train(spark, events, config, holdout_start, version, store_url, catalog,
                             sample=sample.users, write=False, deduplicated=True).model
    events.unpersist()
    return built


def _tuned(config: BatchConfig, sampled: pa.Table, sample: Sample, as_of_ms: int,
           version: str, store: Any, clock: Callable[[], float],
           ) -> tuple[BatchConfig, TuningRecord]:
    """The single-node tuner on the sample, over the discoveries this engine computes; the
    first run of a version records its choice and a re-run takes it."""
    from recs.batch.evaluation import tuning as tuner

    recorded = recorded_choice(store, version, config)
    if recorded is not None:
        return recorded
    # Every shopper's list comes from one discovery part here: no short-history route.
    grid = {"discovery": tuple(d for d in tuner.GRID["discovery"] if d in DISCOVERIES),
            "short_discovery": ()}
    result = tuner.tune(sampled, config, as_of_ms, grid=grid, clock=clock)
    # The tuner saw the sample only: the window it stands for is the job's.
    result.sample = {"window_events": sample.window_events, "events": sampled.num_rows,
                     "users_share": round(sample.users_share, 4)}
    record: TuningRecord = {**result.record(), "discoveries": list(DISCOVERIES)}
    store.put(layout.tuning_choice(version), json.dumps(
        {"params": result.params, "record": record}, sort_keys=True).encode())
    return result.config, record


def run(spark: SparkSession, store_url: str, state: BatchState, config: BatchConfig,
        clock: Callable[[], float] = time.perf_counter) -> SparkManifest:
    """The whole job for the weight step's ``state``; returns the manifest it wrote last."""
    started = time.perf_counter()
    store = open_store(store_url)
    version = state["version"]
    # The files as the weight step selects them (it sized the window from these days).
    day = as_of(state)
    keys = window_keys(store.list(layout.EVENTS),
                       day - timedelta(days=config.training_window_days), day)
    catalog = (json.loads(store.get(state["catalog_key"])) if state.get("catalog_key")
               else {})
    built = build(spark, store_url, keys, config, midnight_ms(day), version, catalog,
                  clock=clock)
    events_key = layout.window_events(version)
    buffer = io.BytesIO()
    pq.write_table(built.events, buffer, compression="zstd")
    store.put(events_key, buffer.getvalue())
    store.put(layout.model(version), built.trained.model.to_bytes())
    store.put(layout.params(version),
              json.dumps(built.config.as_dict(), sort_keys=True).encode())
    if built.shadow is not None:
        store.put(layout.shadow_model(version), built.shadow.to_bytes())
    counts = cast(Counts, {**state.get("counts", {}), **built.trained.counts,
                           "partitions": len(keys), "event_bytes": built.files.bytes,
                           "skipped_event_files": len(built.files.skipped),
                           "skipped_event_bytes": built.files.skipped_bytes,
                           "rows_expected": built.trained.rows})
    manifest: SparkManifest = {
        "events_key": events_key,
        "catalog_key": state.get("catalog_key", ""),
        "model_key": layout.model(version),
        "params_key": layout.params(version),
        "shadow_key": layout.shadow_model(version),
        "rows_prefix": layout.rows_prefix(version),
        "tuning": built.tuning,
        "counts": counts,
        "seconds": round(time.perf_counter() - started, 2),
    }
    store.put(layout.spark_manifest(version), json.dumps(manifest, sort_keys=True).encode())
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recs_spark.job")
    parser.add_argument("--store", required=True,
                        help="s3://<bucket> or file:///<directory> (the ObjectStore port)")
    parser.add_argument("--state", required=True,
                        help="the weight step's output state, as JSON")
    args = parser.parse_args(argv)
    state = cast(BatchState, json.loads(args.state))
    config = BatchConfig.from_env()
    check(config)
    spark = get_session()
    manifest = run(spark, args.store, state, config)
    print(json.dumps({"version": state["version"], "counts": manifest["counts"],
                      "seconds": manifest["seconds"]}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
