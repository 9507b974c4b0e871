"""The ``recs`` command: the local demo, and the offline tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from recs.local import demo

    demo.run(port=args.port, host=args.host, events_csv=args.events, users=args.users)
    return 0


def _sample(args: argparse.Namespace) -> int:
    from recs.local import sample_data

    events = sample_data.generate(users=args.users, seed=args.seed)
    sample_data.write_csv(events, args.out)
    print(f"wrote {len(events)} events to {args.out}")
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
    demo.set_defaults(run=_demo)

    sample = commands.add_parser("sample-data", help="write the generated sample events as CSV")
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--users", type=int, default=400)
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(run=_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
