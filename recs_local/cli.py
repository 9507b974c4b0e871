"""The ``recs`` command: the local demo, and the offline tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from recs_local import demo

    demo.run(port=args.port, host=args.host, events_csv=args.events, users=args.users,
             catalog_file=args.catalog, simulate_shoppers=args.simulate, engine=args.engine)
    return 0


def _import_catalog(args: argparse.Namespace) -> int:
    """Validate a catalog file and load it through the same path as ``PUT /items``."""
    from recs.intake import catalog
    from recs.intake.ingest import now_ms
    from recs.stores import wiring
    from recs_local.catalog_files import read_catalog

    items = read_catalog(args.file)
    now = now_ms()
    accepted = rejected = 0
    objects, realtime = wiring.object_store(), wiring.realtime_store()
    for start in range(0, len(items), catalog.MAX_ITEMS):
        result = catalog.validate_items(items[start:start + catalog.MAX_ITEMS], now)
        catalog.apply(result.accepted, objects, realtime, now)
        accepted += len(result.accepted)
        rejected += len(result.rejected)
        for error in result.rejected[:20]:
            print(f"row {start + error.index + 2}: {error.field}: {error.reason}",
                  file=sys.stderr)
    print(f"{accepted} items imported, {rejected} rejected")
    return 0 if accepted or not items else 1


def _redrive(args: argparse.Namespace) -> int:
    """Replay refused event messages; exit 1 while some are still refused."""
    import os

    from recs.contracts import resources
    from recs_local.redrive import DLQ_ENV, dlq_url_by_name, redrive

    queue_url = args.queue_url or os.environ.get(resources.QUEUE_ENV)
    if not queue_url:
        print(f"recs redrive: the events queue is unknown: set {resources.QUEUE_ENV} or pass "
              "--queue-url", file=sys.stderr)
        return 2
    dlq_url = args.dlq_url or os.environ.get(DLQ_ENV)
    if args.dlq_name:
        dlq_url = dlq_url_by_name(args.dlq_name)
    bucket = None if args.skip_quarantine else (args.bucket or os.environ.get(resources.BUCKET_ENV))
    if args.skip_dlq:
        dlq_url = None
    if not bucket and not dlq_url:
        print(f"recs redrive: nothing to replay from: set {resources.BUCKET_ENV} (the "
              f"quarantine) and/or {DLQ_ENV} (the dead-letter queue)", file=sys.stderr)
        return 2
    report = redrive(queue_url, bucket=bucket, dlq_url=dlq_url, dry_run=args.dry_run)
    print(report.text())
    return 1 if report.refused else 0


def _sample(args: argparse.Namespace) -> int:
    from recs_local import sample_data

    events = sample_data.generate(users=args.users, seed=args.seed)
    sample_data.write_csv(events, args.out)
    print(f"wrote {len(events)} events to {args.out}")
    return 0


def _shopper_token(args: argparse.Namespace) -> int:
    """Print a shopper token, as the shop's backend issues one (docs/security.md)."""
    import os
    import time

    from recs.contracts.access import SHOPPER_SECRET_ENV, issue

    secret = os.environ.get(SHOPPER_SECRET_ENV)
    if not secret:
        print(f"recs shopper-token: set {SHOPPER_SECRET_ENV} to the secret the API checks "
              "tokens with (make demo prints it; in the cloud: the ShopperTokenSecretArn "
              "output's value)", file=sys.stderr)
        return 2
    if args.ttl <= 0:
        print("recs shopper-token: --ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    print(issue(secret, args.user_id, int(time.time()) + args.ttl))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="ingest events, run the nightly batch and serve the API, all on moto")
    demo.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    demo.add_argument("--events", type=Path, default=None,
                      help="CSV of user_id,item_id,event_type,timestamp[,category,event_id,"
                           "session_id] instead of generated sample data")
    demo.add_argument("--users", type=int, default=400, help="shoppers in the generated data")
    demo.add_argument("--catalog", type=Path, default=None,
                      help="catalog CSV or Parquet (item_id,category,title,price,available,"
                           "created_at); the generated data brings its own")
    demo.add_argument("--simulate", type=int, default=200, metavar="SHOPPERS",
                      help="shoppers who act on what they are shown, in an experiment of the "
                           "personalised list against trending, stopped when they are done "
                           "(default 200; 0: none)")
    demo.add_argument("--engine", choices=("auto", "lambda", "spark"), default=None,
                      help="which engine trains the nightly batch (RECS_ENGINE; spark runs "
                           "the Spark job in local mode and exports with the Distributed Map; "
                           "default: RECS_ENGINE, else auto)")
    demo.set_defaults(run=_demo)

    imports = commands.add_parser(
        "import-catalog", help="load a catalog CSV/Parquet into the deployed stack "
                               "(RECS_BUCKET and RECS_REALTIME_TABLE name it)")
    imports.add_argument("file", type=Path)
    imports.set_defaults(run=_import_catalog)

    replay = commands.add_parser(
        "redrive", help="send event messages the lander refused (events-rejected/ in the "
                        "bucket) or SQS dead-lettered through the lander again, after a fix")
    replay.add_argument("--queue-url", help="the events queue (default: RECS_QUEUE_URL)")
    replay.add_argument("--dlq-url", help="the dead-letter queue (default: RECS_DLQ_URL)")
    replay.add_argument("--dlq-name", help="the dead-letter queue by name instead of URL")
    replay.add_argument("--bucket", help="the data bucket (default: RECS_BUCKET)")
    replay.add_argument("--skip-quarantine", action="store_true",
                        help="leave events-rejected/ alone")
    replay.add_argument("--skip-dlq", action="store_true", help="leave the dead-letter queue alone")
    replay.add_argument("--dry-run", action="store_true",
                        help="report what would be replayed; send and remove nothing")
    replay.set_defaults(run=_redrive)

    token = commands.add_parser(
        "shopper-token", help="issue a shopper token for USER_ID, as the shop's backend does "
                              "(signed with RECS_SHOPPER_TOKEN_SECRET)")
    token.add_argument("user_id", metavar="USER_ID")
    token.add_argument("--ttl", type=int, default=3600,
                       help="seconds until it expires (default 3600)")
    token.set_defaults(run=_shopper_token)

    sample = commands.add_parser("sample-data", help="write the generated sample events as CSV")
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--users", type=int, default=400)
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(run=_sample)

    from recs_local.evaluation.commands import add_parsers
    from recs_local.experiments_cli import add_parser as add_experiments

    add_parsers(commands)  # evaluate, recommend-batch
    add_experiments(commands)  # experiments create|list|report|stop
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = getattr(args, "run", None) or args.func
    return int(command(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
