"""``recs evaluate`` and ``recs recommend-batch``.

The main ``recs`` CLI registers these with ``add_parsers(subparsers)``; until then run them
as ``python -m recs_local.evaluation.commands evaluate ...``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from recs.batch.config import BatchConfig
from recs.batch.evaluation.split import SPLITS
from recs.batch.interactions import EVENT_RANK
from recs.batch.model import Model
from recs.batch.steps.export import export_rows
from recs.contracts.routes import EXCLUDE_SEEN
from recs.serving.service import RecommendationList, RecommendationService
from recs.serving.settings import ServingConfig
from recs.stores.memory import (
    MemoryModelRegistry,
    MemoryRealtimeStore,
    MemoryRecommendationStore,
    MemoryServingReader,
)
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
    from recs.serving import reasons
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
    if args.tune:
        tuned = tuning.tune(table, config, as_of_ms=as_of)
        config = tuned.config
        print(f"tuned: {tuned.record()['params']}", file=sys.stderr)
    interactions = weight_events(table, config, as_of)
    model = train(interactions, config)

    users = [line.strip() for line in args.users.read_text(encoding="utf-8").splitlines()]
    users = [u for u in users if u]
    if args.exclude_seen:
        return _write_served(model, users, args.num_items, args.out)
    index = {u: i for i, u in enumerate(model.user_ids.tolist())}
    items = model.item_ids.tolist()
    trending = list(zip(model.trending_items.tolist(), model.trending_scores.tolist(),
                        strict=True))
    written = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["user_id", "item_id", "rank", "score", "reason"])
        for user in users:
            row = index.get(user)
            entries: list[tuple[int, float, str]] = []
            if row is not None:
                start, stop = model.rec_indptr[row], model.rec_indptr[row + 1]
                for i, s, b, e in zip(model.rec_items[start:stop].tolist(),
                                      model.rec_scores[start:stop].tolist(),
                                      model.rec_because[start:stop].tolist(),
                                      model.rec_because_event[start:stop].tolist(),
                                      strict=True):
                    event = EVENT_RANK[e] if e >= 0 else "view"
                    entries.append((i, s, reasons.because(event, items[b])))
            taken = {i for i, _, _ in entries}
            for i, s in trending:  # the API's fallback tier fills short lists
                if len(entries) >= args.num_items:
                    break
                if i not in taken:
                    entries.append((i, s, reasons.trending()))
            for rank, (i, s, reason) in enumerate(entries[:args.num_items], start=1):
                out.writerow([user, items[i], rank, f"{s:.6f}", reason])
                written += 1
    known = sum(1 for u in users if u in index)
    print(f"wrote {written} rows for {len(users)} users ({known} with history) to {args.out}",
          file=sys.stderr)
    return 0


# The version the offline rows are stored under (no registry names it: nothing else reads them).
OFFLINE_VERSION = "offline"


def served_lists(model: Model, users: Sequence[str], num_items: int,
                 exclude: str = EXCLUDE_SEEN) -> Iterator[tuple[str, RecommendationList]]:
    """Each user's answer to ``GET /recommendations?user_id=<user>&exclude=<exclude>``: the
    model exported as the nightly export writes it into in-memory stores, read by the
    serving code with the ``RECS_*`` serving settings. There are no realtime rows, so it is
    the list of a user with no events in the last two days (no session tier), and no catalog
    state (no unavailable items, no new arrivals)."""
    recommendations = MemoryRecommendationStore()
    recommendations.write(export_rows(model, OFFLINE_VERSION, 0))
    registry = MemoryModelRegistry()
    registry.live = OFFLINE_VERSION
    service = RecommendationService(
        MemoryServingReader(recommendations, MemoryRealtimeStore()), registry,
        ServingConfig.from_env())
    for user in users:
        yield user, service.for_user(user, None, num_items, exclude=exclude)


def _write_served(model: Model, users: Sequence[str], num_items: int, out: Path) -> int:
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "rank", "score", "reason"])
        for user, answer in served_lists(model, users, num_items):
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
