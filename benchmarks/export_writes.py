"""Export writes: rows per second into DynamoDB, one BatchWriteItem at a time or several.

    python benchmarks/export_writes.py [--rows 20000] [--latency-ms 10] [--workers 1,8]

The real store and a real boto3 client: every row is JSON-encoded, every request serialised,
signed and its response parsed by botocore. Only the network is replaced, by a fixed wait
per call (``--latency-ms``, a round trip to DynamoDB in the same region is typically
5-20 ms) and an empty ``UnprocessedItems``, so DynamoDB's own throughput limits are not in
these numbers. Rows look like the export's: 50 entries of item, score, reason item, event,
category and titles. Prints a Markdown table; at 20 M events the export writes 1.16 M rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers/core"))

ROWS_AT_20M = 1_160_000


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def client_with_latency(latency_s: float) -> Any:
    """A boto3 DynamoDB client whose every call waits ``latency_s`` instead of sending."""
    import boto3
    from botocore.awsrequest import AWSResponse

    from recs.stores.aws import EXPORT_CONFIG

    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x", config=EXPORT_CONFIG)

    def send(request: Any, **_: Any) -> AWSResponse:
        time.sleep(latency_s)
        return AWSResponse(request.url, 200, {"x-amzn-RequestId": "bench"},
                           _Body(b'{"UnprocessedItems": {}}'))

    client.meta.events.register("before-send.dynamodb.BatchWriteItem", send)
    return client


def rows(count: int, distinct: int = 1_000) -> Iterator[Any]:
    """``count`` rows cycling through ``distinct`` prebuilt lists, so that making them is not
    in the timing (the export makes its rows in the timed export step of training.py)."""
    from recs.stores.ports import RecRow

    lists = [[[f"item{(user * 7919 + k * 104729) % 200_000}", round(1 / (k + 1), 6),
               f"item{user % 5000}", "purchase", f"dept{k % 10}/cat{k % 7}", f"Item {k}",
               f"Item {user % 5000}"] for k in range(50)] for user in range(distinct)]
    return (RecRow(f"U#user{user}", "20261124-bench", lists[user % distinct], 1_800_000_000)
            for user in range(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--workers", default="1,8")
    args = parser.parse_args()

    from recs.stores.aws import DynamoRecommendationStore

    client = client_with_latency(args.latency_ms / 1000)
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. {args.rows:,} rows of 50 entries; the network replaced "
        f"by {args.latency_ms:g} ms per BatchWriteItem call.",
        "",
        "| workers | seconds | rows/s | CPU µs/row | 1.16 M rows (20 M events) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for workers in (int(w) for w in args.workers.split(",")):
        store = DynamoRecommendationStore("recs", client, workers)
        batch = rows(args.rows)
        start, cpu = time.perf_counter(), time.process_time()
        written = store.write(batch)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert written == args.rows
        lines.append(f"| {workers} | {seconds:.1f} | {args.rows / seconds:,.0f} | "
                     f"{cpu / args.rows * 1e6:.0f} | "
                     f"{ROWS_AT_20M / args.rows * seconds / 60:.1f} min |")
    text = "\n".join(lines)
    print(text)
    (ROOT / "benchmarks/results/export_writes.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
