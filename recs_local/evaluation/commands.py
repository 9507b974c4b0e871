"""``recs evaluate`` and ``recs recommend-batch``.

The main ``recs`` CLI registers these with ``add_parsers(subparsers)``; until then run them
as ``python -m recs_local.evaluation.commands evaluate ...``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import math
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recs.batch.config import BatchConfig
from recs.batch.evaluation.split import SPLITS
from recs.batch.model import Model
from recs.batch.steps.export import export_rows
from recs.batch.weighting import EVENT_COLUMNS
from recs.contracts import keys
from recs.contracts.keys import Entry
from recs.contracts.routes import EXCLUDE_SEEN
from recs.serving import reasons
from recs.serving.service import RecommendationList, RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores.memory import (
    MemoryModelRegistry,
    MemoryRealtimeStore,
    MemoryRecommendationStore,
    MemoryServingReader,
)
from recs.stores.ports import RecRow
from recs_local.evaluation.loaders import FORMATS


def add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``evaluate`` and ``recommend-batch`` on an ``add_subparsers()`` object."""
    ev = subparsers.add_parser(
        "evaluate",
        help="offline evaluation on real data: metrics with 95%% CIs vs baselines",
        description="Split events in time, tune the default on a validation split carved "
        "from the training part, and score the default, every algorithm and the baselines.",
    )
    ev.add_argument("--events", required=True, type=Path, help="interaction file")
    ev.add_argument("--format", default="events", choices=FORMATS)
    ev.add_argument("--k", type=int, default=20, help="list length (default 20)")
    ev.add_argument("--split", default="global-time", choices=SPLITS)
    ev.add_argument("--out", type=Path, default=None,
                    help="directory for report.md and PNG plots")
    ev.add_argument("--tune-seconds", type=float, default=None,
                    help="time box of the tuning grid (default RECS_TUNING_SECONDS or 120)")
    ev.set_defaults(func=cmd_evaluate)

    rb = subparsers.add_parser(
        "recommend-batch",
        help="train with the nightly code on a file and write top-K lists for users",
        description="Trains with exactly the nightly steps (weight_events + train, tuned "
        "first unless --no-tune); time decay is measured from the end of the training data.",
    )
    rb.add_argument("--events", required=True, type=Path, help="training events")
    rb.add_argument("--format", default="events", choices=FORMATS)
    rb.add_argument("--users", required=True, type=Path, help="user ids, one per line")
    rb.add_argument("--num-items", required=True, type=int, help="items per user")
    rb.add_argument("--out", required=True, type=Path, help="output CSV")
    rb.add_argument("--no-tune", dest="tune", action="store_false",
                    help="train with the configuration as is (no validation grid)")
    rb.add_argument("--exclude-seen", action="store_true",
                    help="only items new to each user: the list GET /recommendations?"
                    "exclude=seen serves them (the same rows, read by the serving code, with "
                    "RECS_* serving settings), for a user with no events in the last two days")
    rb.add_argument("--engine", default="local", choices=("local", "spark"),
                    help="train with the single-node steps (local, the default) or with the "
                    "Spark job in local mode (spark: pyspark and Java 17); both give the same "
                    "lists, ties aside. The spark engine tunes over its own discoveries only "
                    "(rp3beta, cosine): compare the two with --no-tune or a fixed "
                    "RECS_DISCOVERY")
    rb.set_defaults(func=cmd_recommend_batch)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from recs_local.evaluation import loaders, report, run

    config = BatchConfig.from_env()
    table = loaders.load(args.events, args.format)
    started = time.perf_counter()
    ev = run.evaluate(table, config, k=args.k, split_kind=args.split,
                      tune_seconds=args.tune_seconds,
                      log=lambda msg: print(msg, file=sys.stderr))
    text = report.markdown(ev, f"{args.events.name} ({args.format})")
    text += f"\n\n_run took {time.perf_counter() - started:.1f}s_\n"
    print(text)
    if args.out:
        from recs_local.evaluation import plots

        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report.md").write_text(text, encoding="utf-8")
        for path in plots.write_all(ev, args.out):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def training_config(config: BatchConfig, span_days: float) -> BatchConfig:
    """Offline, the training window covers the whole file unless the shop set one."""
    import os

    if os.environ.get("RECS_TRAINING_WINDOW_DAYS"):
        return config
    return dataclasses.replace(
        config, training_window_days=max(config.training_window_days, math.ceil(span_days) + 1))


def cmd_recommend_batch(args: argparse.Namespace) -> int:
    from recs.batch.evaluation import tuning
    from recs.batch.evaluation.split import ts_ms
    from recs.batch.training import train
    from recs.batch.weighting import DAY_MS, weight_events
    from recs_local.evaluation import loaders

    if args.num_items < 1:
        raise SystemExit("--num-items must be >= 1")
    table = loaders.load(args.events, args.format)
    if table.num_rows == 0:
        raise SystemExit(f"{args.events}: no events")
    ts = ts_ms(table)
    as_of = int(ts.max()) + 1  # the end of the training data, never the wall clock
    config = training_config(BatchConfig.from_env(), (as_of - int(ts.min())) / DAY_MS)
    config = dataclasses.replace(
        config, num_recommendations=max(config.num_recommendations, args.num_items))
    if args.engine == "spark":
        rows = spark_rows(table, config, as_of, args.tune)
    else:
        if args.tune:
            tuned = tuning.tune(table, config, as_of_ms=as_of)
            config = tuned.config
            print(f"tuned: {tuned.record()['params']}", file=sys.stderr)
        rows = list(export_rows(train(weight_events(table, config, as_of), config),
                                OFFLINE_VERSION, 0))

    users = [line.strip() for line in args.users.read_text(encoding="utf-8").splitlines()]
    users = [u for u in users if u]
    if args.exclude_seen:
        return _write_served(rows, users, args.num_items, args.out)
    return _write_lists(rows, users, args.num_items, args.out)


def spark_rows(table: pa.Table, config: BatchConfig, as_of_ms: int,
               tune: bool) -> list[RecRow]:
    """The version's rows as the Spark job writes them, trained on ``table`` in local mode:
    the events go to a temporary directory store as one event file, the job's training
    writes its row files there, and they are read back. Tuning tries only the discoveries
    the Spark engine computes (``recs_spark.similarity.DISCOVERIES``)."""
    from recs.batch.window import conformed
    from recs.contracts import layout
    from recs.formats import row_files
    from recs.stores.directory import DirectoryObjectStore
    from recs_spark.job import build
    from recs_spark.session import get_session

    schema = conformed(EVENT_COLUMNS)
    events = pa.Table.from_arrays(
        [table[name].cast(schema.field(name).type) if name in table.column_names
         else pa.nulls(table.num_rows, schema.field(name).type) for name in EVENT_COLUMNS],
        schema=schema)
    with tempfile.TemporaryDirectory(prefix="recs-spark-") as directory:
        store = DirectoryObjectStore(directory)
        key = layout.event_file("offline", "events")
        buffer = io.BytesIO()
        pq.write_table(events, buffer, compression="zstd")
        store.put(key, buffer.getvalue())
        del buffer, events
        built = build(get_session(), Path(directory).resolve().as_uri(), [key], config,
                      as_of_ms, OFFLINE_VERSION, tune=tune, shadow=False)
        if built.tuning.get("params"):
            print(f"tuned: {built.tuning['params']}", file=sys.stderr)
        return [row for file in built.trained.row_keys
                for row in row_files.read(store.get(file))]


def _write_lists(rows: Sequence[RecRow], users: Sequence[str], num_items: int,
                 out: Path) -> int:
    """Each user's stored list (the row the API reads), topped up from global trending (the
    API's fallback tier), as CSV."""
    by_key = {row.key: row.items for row in rows}
    trending_entries = [Entry._make(e) for e in by_key.get(keys.GLOBAL_TRENDING, [])]
    written = known = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "rank", "score", "reason"])
        for user in users:
            stored = by_key.get(keys.user_key(user))
            known += stored is not None
            entries = [(e.item, float(e.score), reasons.because(e.event, e.because or ""))
                       for e in map(Entry._make, stored or [])]
            taken = {item for item, _, _ in entries}
            for e in trending_entries:
                if len(entries) >= num_items:
                    break
                if e.item not in taken:
                    entries.append((e.item, float(e.score), reasons.trending()))
            for rank, (item, score, reason) in enumerate(entries[:num_items], start=1):
                writer.writerow([user, item, rank, f"{score:.6f}", reason])
                written += 1
    print(f"wrote {written} rows for {len(users)} users ({known} with history) to {out}",
          file=sys.stderr)
    return 0


# The version the offline rows are stored under (no registry names it: nothing else reads them).
OFFLINE_VERSION = "offline"


def served_lists(model: Model | Sequence[RecRow], users: Sequence[str], num_items: int,
                 exclude: str = EXCLUDE_SEEN) -> Iterator[tuple[str, RecommendationList]]:
    """Each user's answer to ``GET /recommendations?user_id=<user>&exclude=<exclude>``: the
    model exported as the nightly export writes it into in-memory stores, read by the
    serving code with the ``RECS_*`` serving settings. There are no realtime rows, so it is
    the list of a user with no events in the last two days (no session tier), and no catalog
    state (no unavailable items, no new arrivals)."""
    recommendations = MemoryRecommendationStore()
    recommendations.write(export_rows(model, OFFLINE_VERSION, 0) if isinstance(model, Model)
                          else model)
    registry = MemoryModelRegistry()
    registry.live = OFFLINE_VERSION
    service = RecommendationService(
        MemoryServingReader(recommendations, MemoryRealtimeStore()), registry,
        ServingConfig.from_env())
    for user in users:
        yield user, service.for_user(user, None, num_items, exclude=exclude)


def _write_served(rows: Sequence[RecRow], users: Sequence[str], num_items: int,
                  out: Path) -> int:
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "rank", "score", "reason"])
        for user, answer in served_lists(rows, users, num_items):
            for rank, item in enumerate(answer.items, start=1):
                writer.writerow([user, item.item_id, rank, f"{item.score:.6f}", item.reason])
                written += 1
    print(f"wrote {written} rows of items new to {len(users)} users to {out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recs_local.evaluation.commands")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    np.seterr(all="ignore")
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
